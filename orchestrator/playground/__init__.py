"""The Playground: a web page, served by the API at `/playground`, to build and try assistants and to watch the runs
in flight. Its assets (plain ES modules, no build step) ship in the package under `static/`; the page asks for an
API key and talks only to the public `/v1` API, like any client. `routes.py` serves it."""
