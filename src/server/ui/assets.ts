/**
 * The dashboard's only stylesheet and script, served from `/ui/` (never from a CDN), with a
 * content hash in their URL so that they can be cached for good. The script is small and
 * optional: without it every page still works (forms POST and redirect); with it, pages
 * follow server-sent events and replace their `<main>` in place, and ages tick.
 */
import { createHash } from 'node:crypto';

const css = `
:root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f6f8fa;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--info:#0969da;--focus:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#161b22;--line:#30363d;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--info:#4493f8;--focus:#4493f8}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--info)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}
header.top .brand{font-weight:700;text-decoration:none;color:var(--fg);font-size:1.1rem}
header.top nav{display:flex;gap:1rem;flex:1}
header.top .who{color:var(--muted);font-size:.9rem;display:flex;gap:.5rem;align-items:center}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:var(--bg);padding:.3rem}
main{padding:1rem;max-width:1200px;margin:0 auto}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .4rem}
.muted{color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
.table{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}
td.msg{max-width:36rem;overflow-wrap:anywhere}
.badge{display:inline-flex;align-items:center;gap:.25rem;padding:.05rem .45rem;border-radius:1rem;border:1px solid currentColor;font-size:.85rem;white-space:nowrap;font-weight:600}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.info{color:var(--info)}.idle{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:.8rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.8rem;background:var(--panel)}
.card h2{margin:0 0 .4rem;font-size:1.05rem;display:flex;justify-content:space-between;gap:.5rem;align-items:baseline}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.4rem 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.6rem 0}
.actions form{margin:0}
button,.button{font:inherit;padding:.4rem .9rem;border-radius:.4rem;border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer;min-height:2.4rem;text-decoration:none;display:inline-flex;align-items:center}
button.primary{background:var(--info);border-color:var(--info);color:#fff}
.banner{border:1px solid currentColor;border-radius:.4rem;padding:.5rem .8rem;margin:.6rem 0;overflow-wrap:anywhere}
.wave{border:1px solid var(--line);border-radius:.5rem;margin:.6rem 0;padding:.2rem .8rem .6rem}
.wave>h3{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
tr.step th{padding-top:.8rem;color:var(--fg);font-size:.9rem;border-bottom:2px solid var(--line)}
.live{font-size:.85rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
ul.fields{margin:.2rem 0;padding-left:1rem;list-style:none}
form.login{max-width:24rem;display:grid;gap:.6rem}
input[type=password]{font:inherit;padding:.45rem;border:1px solid var(--line);border-radius:.4rem;background:var(--bg);color:var(--fg)}
@media (max-width:640px){main{padding:.6rem}th,td{padding:.35rem .3rem}.hide-narrow{display:none}
table.objects thead{display:none}table.objects tr{display:block;border-bottom:1px solid var(--line);padding:.3rem 0}table.objects tr.step{border:0}
table.objects td{display:grid;grid-template-columns:6.5rem 1fr;gap:.5rem;border:0;padding:.1rem 0}table.objects td::before{content:attr(data-label);color:var(--muted);font-size:.85rem}
.wave{padding:.2rem .5rem .4rem}}
.bar{display:grid;grid-template-columns:minmax(6rem,10rem) 1fr;gap:.5rem;align-items:center;margin:.2rem 0;font-size:.9rem}
progress{width:100%;height:.9rem;accent-color:var(--ok)}
.card.stage h3{margin:0 0 .3rem;display:flex;flex-wrap:wrap;gap:.4rem;align-items:baseline}
.card.stage.current{border:2px solid var(--info)}
.stage-counts{margin:.3rem 0 0;font-size:.9rem}
code.label{border:1px solid var(--line);border-radius:.3rem;padding:0 .25rem;white-space:nowrap}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.4rem 0}
form.filters label{display:grid;gap:.15rem;font-size:.9rem;color:var(--muted)}
input[type=text],select{font:inherit;padding:.4rem;border:1px solid var(--line);border-radius:.4rem;background:var(--bg);color:var(--fg);min-height:2.4rem}
input[type=text]{min-width:min(22rem,80vw)}
ol.brief{margin:0;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:.1rem .8rem}
table.devices td:first-child{min-width:8rem}
`;

const js = `(function(){'use strict';
var main=document.getElementById('main');
var live=document.getElementById('live');
function ago(iso){var s=Math.max(0,Math.round((Date.now()-Date.parse(iso))/1000));if(isNaN(s))return'';if(s<60)return s+' s ago';var m=Math.floor(s/60);if(m<60)return m+' min ago';var h=Math.floor(m/60);if(h<48)return h+' h ago';return Math.floor(h/24)+' d ago';}
function ages(){var t=document.querySelectorAll('time[data-age]');for(var i=0;i<t.length;i++){t[i].textContent=ago(t[i].getAttribute('datetime'));}}
setInterval(ages,1000);
var busy=false,again=false;
function refresh(){
  if(!main)return;
  if(busy){again=true;return;}
  busy=true;
  fetch(location.pathname+location.search,{headers:{'x-doris-fragment':'1'},credentials:'same-origin',cache:'no-store'}).then(function(r){
    if(r.status===401){location.reload();return;}
    if(!r.ok)return;
    return r.text().then(function(text){
      var focused=document.activeElement&&document.activeElement.id;
      var open=[];var d=main.querySelectorAll('details[open][id]');for(var i=0;i<d.length;i++)open.push(d[i].id);
      main.innerHTML=text;
      for(var j=0;j<open.length;j++){var e=document.getElementById(open[j]);if(e)e.open=true;}
      if(focused){var f=document.getElementById(focused);if(f)f.focus();}
      ages();
    });
  }).catch(function(){}).then(function(){busy=false;if(again){again=false;refresh();}});
}
var src=document.body.getAttribute('data-events');
if(src&&window.EventSource){
  var es=new EventSource(src);
  es.addEventListener('update',refresh);
  es.onopen=function(){if(live)live.textContent='\\u25cf live';};
  es.onerror=function(){if(live)live.textContent='\\u25cb reconnecting';};
}
document.addEventListener('submit',function(ev){
  var form=ev.target;
  if(!form.hasAttribute('data-inline')||!window.fetch)return;
  ev.preventDefault();
  var button=form.querySelector('button');if(button)button.disabled=true;
  fetch(form.action,{method:'POST',credentials:'same-origin',headers:{'content-type':'application/x-www-form-urlencoded','accept':'application/json'},body:new URLSearchParams(new FormData(form)).toString()})
  .then(function(r){return r.json().catch(function(){return{};}).then(function(b){
    var note=document.getElementById('notice');
    if(note){note.textContent=(b&&(b.message||b.error))||('HTTP '+r.status);note.className='banner '+(r.ok?'info':'bad');note.hidden=false;}
  });}).catch(function(){}).then(function(){if(button)button.disabled=false;refresh();});
});
ages();
})();
`;

function hashed(name: string, body: string, type: string) {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `/ui/${name}.${hash}.${name === 'app' && type.startsWith('text/css') ? 'css' : 'js'}`, body, type };
}

export const stylesheet = hashed('app', css, 'text/css; charset=utf-8');
export const script = hashed('app', js, 'text/javascript; charset=utf-8');

/** The asset at `path`, if any. */
export function assetAt(path: string): { body: string; type: string } | undefined {
  return [stylesheet, script].find((a) => a.path === path);
}
