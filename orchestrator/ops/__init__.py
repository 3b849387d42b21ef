"""The operations overview behind `GET /v1/ops/overview` (the Playground's ops view): aggregates over every project,
from the service's own Prometheus metrics (scraped from each process, `scrape.py`) turned into rates and quantiles
over a window (`window.py`), and the deployment's status in Redis (active runs, queues, worker heartbeats), sampled
by a background task of the API process (`sampler.py`)."""
