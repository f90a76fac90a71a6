"""Upstream framework (b) of the differential test (test/differential/): a
WSGI application routing as Django and Flask do, served by gunicorn
(`gunicorn wsgi_app:app`) or by the standard library's wsgiref
(`python3 wsgi_app.py`, which prints "listening PORT" once bound).

WSGI hands the application a decoded PATH_INFO (%XX already turned into
bytes, carried as latin-1 text): `/admin%2Fusers` arrives as `/admin/users`.
The application reads it as UTF-8, as frameworks do, and routes on it:
`/admin` and everything under `/admin/` is the admin view. The virtual host
is chosen from HTTP_HOST as Django's split_domain_port reads it: lower-cased,
port dropped, one trailing dot dropped.

Each answer is JSON {"route": NAME, "path": PATH_INFO as routed, "host": ...}.

Both ways it exits when its standard input closes (under gunicorn the worker
stops the master first): the test holds it open, so even a test process that
is killed leaves no server behind.
"""
import json
import os
import signal
import sys
import threading


def exit_when_stdin_closes(stop_parent):
    def watch():
        sys.stdin.buffer.read()
        if stop_parent:
            os.kill(os.getppid(), signal.SIGTERM)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def host_of(environ):
    host = environ.get('HTTP_HOST', '').lower()
    if host.startswith('['):
        end = host.find(']')
        domain = host[: end + 1] if end > 0 else host
    else:
        domain = host.rsplit(':', 1)[0] if ':' in host else host
    return domain[:-1] if domain.endswith('.') else domain


def route_of(environ):
    if host_of(environ) == 'admin.internal':
        return 'vhost-admin'
    path = environ.get('PATH_INFO', '').encode('latin-1').decode('utf-8', 'replace')
    if path == '/admin' or path.startswith('/admin/'):
        return 'admin'
    return 'public'


def app(environ, start_response):
    body = json.dumps({
        'route': route_of(environ),
        'path': environ.get('PATH_INFO', ''),
        'host': environ.get('HTTP_HOST', ''),
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


if __name__ != '__main__' and 'gunicorn' in sys.modules:
    exit_when_stdin_closes(True)


if __name__ == '__main__':
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    exit_when_stdin_closes(False)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server('127.0.0.1', 0, app, handler_class=QuietHandler)
    print('listening', server.server_port, flush=True)
    server.serve_forever()
