"""The web layer: the FastAPI app (``app.create_app``) and running it (``serve.serve``), in small rooms.

    app.py            composes: lifespan, middleware, routers, the page
    predict.py        POST /api/predict, the hot path (answered ahead of the stack)
    meta.py           GET /api/model, /api/config, /api/model.onnx, /healthz
    feedback.py       POST/GET/DELETE /api/feedback...
    schemas.py        response models and request bodies (OpenAPI)
    body.py           a request body -> the image's bytes (base64 decoded once)
    deps.py           the lifespan's objects as dependencies
    errors.py         every failure -> {"error": {"code", "message"}}
    guard.py          body size, request timeout, security headers
    static.py         the page, gzip, the docs page
    serve.py          uvicorn: one process or N workers

Plumbing that is there for speed or safety, each held to what it replaces by its own tests:
    multipart.py      plain multipart bodies read with bytes.find (python-multipart for the rest)
    uvicorn_limits.py header size and time limits on uvicorn's httptools protocol
    sockets.py        the port checked before start-up; one listening socket per worker on Linux
"""
