#!/bin/sh
# Pins the Dockerfile's base images by digest, and checks the pins.
#
#   scripts/pin-base-image.sh            resolve each FROM image's tag to the digest of its
#                                        multi-arch index and rewrite the FROM line
#                                        (image:tag@sha256:...), keeping the tag for readers
#   scripts/pin-base-image.sh --check    fail when a FROM line is not pinned, still holds the
#                                        all-zeros PLACEHOLDER digest, or names a digest that does
#                                        not resolve to an index with every platform we build
#
# Needs registry access and `docker buildx imagetools` (GitHub Actions has it) or `skopeo`
# (Debian's skopeo package). DOCKERFILE and PLATFORMS override what is pinned and required.
set -eu

dockerfile=${DOCKERFILE:-$(dirname "$0")/../Dockerfile}
platforms=${PLATFORMS:-linux/amd64 linux/arm64}
placeholder=sha256:0000000000000000000000000000000000000000000000000000000000000000
mode=pin
case "${1:-}" in
  --check) mode=check ;;
  '') ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# The raw manifest (index) of a reference, from whichever client is installed.
raw_manifest() {
  if command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    docker buildx imagetools inspect --raw "$1"
  elif command -v skopeo >/dev/null 2>&1; then
    skopeo inspect --raw "docker://$1"
  else
    echo "$0: neither docker buildx nor skopeo is installed" >&2
    return 1
  fi
}

# The digest of a reference: sha256 of its raw manifest, as the registry computes it.
digest_of() {
  sum=$(raw_manifest "$1" | sha256sum) || return 1
  echo "sha256:${sum%% *}"
}

# The platforms an index lists, one "os/architecture" and "os/architecture/variant" a line.
platforms_of() {
  manifest=$(raw_manifest "$1") || return 1
  echo "$manifest" | tr -d ' \n\t' | grep -o '"platform":{[^}]*}' | while read -r platform; do
    os=$(echo "$platform" | sed -n 's/.*"os":"\([^"]*\)".*/\1/p')
    arch=$(echo "$platform" | sed -n 's/.*"architecture":"\([^"]*\)".*/\1/p')
    variant=$(echo "$platform" | sed -n 's/.*"variant":"\([^"]*\)".*/\1/p')
    echo "$os/$arch"
    if [ -n "$variant" ]; then echo "$os/$arch/$variant"; fi
  done | sort -u
}

# "image[:tag][@digest]" of each FROM line (after any --platform flag), skipping stage names.
images() {
  awk 'toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; break } }' "$dockerfile" |
    awk '!seen[$0]++'
}

stages=$(awk 'toupper($1) == "FROM" && toupper($(NF-1)) == "AS" { print $NF }' "$dockerfile")
failed=0
for ref in $(images); do
  echo "$stages" | grep -qx "$ref" && continue
  name=${ref%@*}
  pinned=
  case "$ref" in *@sha256:*) pinned=${ref#*@} ;; esac
  if [ "$mode" = check ]; then
    if [ -z "$pinned" ]; then
      echo "$dockerfile: FROM $ref is not pinned by digest (run $0)" >&2; failed=1; continue
    fi
    if [ "$pinned" = "$placeholder" ]; then
      echo "$dockerfile: FROM $name still has the PLACEHOLDER digest (run $0 where the registry is reachable)" >&2; failed=1; continue
    fi
    listed=$(platforms_of "$name@$pinned") || { echo "$dockerfile: $name@$pinned does not resolve" >&2; failed=1; continue; }
    for platform in $platforms; do
      echo "$listed" | grep -qx "$platform" || { echo "$dockerfile: $name@$pinned has no $platform image" >&2; failed=1; }
    done
    current=$(digest_of "$name") && [ "$current" != "$pinned" ] && echo "note: $name now points to $current (pinned: $pinned)" >&2
    echo "ok: $name@$pinned"
  else
    digest=$(digest_of "$name") || { echo "$0: could not resolve $name" >&2; exit 1; }
    tmp=$(mktemp)
    # Replace this image's FROM references (pinned or not) with name@digest.
    awk -v name="$name" -v ref="$name@$digest" '
      toupper($1) == "FROM" { for (i = 2; i <= NF; i++) if ($i !~ /^--/) { split($i, part, "@"); if (part[1] == name) $i = ref; break } }
      { print }' "$dockerfile" >"$tmp"
    cat "$tmp" >"$dockerfile"
    rm -f "$tmp"
    echo "pinned: $name@$digest"
  fi
done
exit $failed
