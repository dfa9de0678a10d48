"""`facerec serve`: the HTTP API and web page over the same dataset, store and recognizer file
as the CLI. Needs the `serve` extra (FastAPI, uvicorn); nothing else in the package imports it.

    gallery.py   LiveGallery: enrolments written durably, refits in the background
    workers.py   the inference pool: one set of nets per worker thread
    jobs.py      what a worker does for a request (decode within limits, detect, embed, crop)
    app.py       the routes (/api/v1, /metrics, the page at /)
    security.py  API keys, rate per client, body size, names
    problems.py  JSON errors with stable codes
    metrics.py   Prometheus
    run.py       building it all and running uvicorn
    static/      the web page (plain HTML, CSS and JavaScript; no build step)
"""
