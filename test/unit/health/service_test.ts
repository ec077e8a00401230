import { healthCases } from './fixture.js';

healthCases([
  {
    name: 'a ClusterIP Service is Current',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: ClusterIP, clusterIP: 10.43.0.10, ports: [{ port: 80 }] }
`,
    status: 'Current',
    message: 'Service is ready',
  },
  {
    name: 'a Service without a type is a ClusterIP Service and Current',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { ports: [{ port: 80 }] }
`,
    status: 'Current',
    message: 'Service is ready',
  },
  {
    name: 'a NodePort Service is Current',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: NodePort, ports: [{ port: 80, nodePort: 30080 }] }
`,
    status: 'Current',
    message: 'Service is ready',
  },
  {
    name: 'a LoadBalancer Service without an ingress address is InProgress',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: LoadBalancer, clusterIP: 10.43.0.10 }
status: { loadBalancer: {} }
`,
    status: 'InProgress',
    message: 'Waiting for the load balancer to be given an address',
  },
  {
    name: 'a LoadBalancer Service with an ingress address is Current',
    yaml: `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { type: LoadBalancer }
status:
  loadBalancer:
    ingress:
      - { ip: 192.168.1.40 }
      - { hostname: web.example.com }
`,
    status: 'Current',
    message: 'Service load balancer is ready: 192.168.1.40, web.example.com',
  },
]);
