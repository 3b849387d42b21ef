"""Vector stores: their use cases (service.py), request bodies, and the retrieval the API and the workers share."""
