"""The web layer: the FastAPI app (``app.create_app``) and running it (``serve.serve``), in small rooms.

    app.py            composes: lifespan, middleware, routers, the page
    predict.py        POST /api/predict, the hot path (answered ahead of the stack)
    meta.py           GET /api/model, /api/config, /api/model.onnx, /api/sequence.onnx, /healthz, /readyz
    feedback.py       POST /api/feedback (rate-limited, its own decode slot)
    admin.py          the feedback admin routes: list, images, delete one or many, review
    schemas.py        response models and request bodies (OpenAPI)
    body.py           a request body -> the image's bytes (base64 decoded once)
    deps.py           the lifespan's objects as dependencies; the admin check
    errors.py         every failure -> {"error": {"code", "message"}}
    guard.py          body size, request timeout, security headers
    admission.py      who gets in: Host allow-list, no cross-site writes, in-flight caps
    throttle.py       per-client rate limits
    static.py         the page, gzip, the docs page
    precompressed.py  files gzipped once per process, not per request
    serve.py          uvicorn: one process or N workers

Plumbing that is there for speed or safety, each held to what it replaces by its own tests:
    multipart.py      plain multipart bodies read with bytes.find (python-multipart for the rest)
    uvicorn_limits.py header size and time limits, a connection cap, bounded drains on uvicorn's httptools
    sockets.py        the port checked before start-up; one listening socket per worker on Linux
"""
