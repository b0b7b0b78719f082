/**
 * Serving a few paths on a user's HTTP server without breaking its other routes.
 *
 * Node fires every 'request' listener for every request, so simply adding ours next to an
 * Express app would make both answer /health. Instead, one router per server takes the
 * place of the listeners present when the first StelarServer attaches, offers each request
 * to the attached handlers and passes everything else to those original listeners. When the
 * last handler detaches, the original listeners are put back exactly as they were.
 * (Listeners added after attaching still run alongside, as Node would run them.)
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => boolean;
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

interface Router {
  handlers: RequestHandler[];
  originals: Listener[];
  dispatch: Listener;
}

const routers = new WeakMap<Server, Router>();

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '9' });
  res.end('Not Found');
}

export function attachRequestHandler(server: Server, handler: RequestHandler): () => void {
  let router = routers.get(server);
  if (!router) {
    const originals = server.listeners('request') as Listener[];
    const r: Router = {
      handlers: [],
      originals,
      dispatch(req, res) {
        for (const h of r.handlers) if (h(req, res)) return;
        if (r.originals.length === 0) return notFound(res);
        for (const l of r.originals) l.call(server, req, res);
      },
    };
    for (const l of originals) server.removeListener('request', l);
    server.on('request', r.dispatch);
    routers.set(server, r);
    router = r;
  }
  router.handlers.push(handler);
  const current = router;
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    const i = current.handlers.indexOf(handler);
    if (i !== -1) current.handlers.splice(i, 1);
    if (current.handlers.length > 0) return;
    server.removeListener('request', current.dispatch);
    for (const l of current.originals) server.on('request', l);
    routers.delete(server);
  };
}
