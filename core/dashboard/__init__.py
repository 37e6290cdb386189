"""The operator dashboard, `GET /admin`: server-rendered pages (Jinja2, autoescaped), no
script and nothing from a CDN, charts drawn as SVG on the server.

    auth.py     who may see it: the admin token as a bearer token, or a login that turns it
                into a signed session cookie; a per-session CSRF token on every form
    figures.py  deflection, hand-over, low-confidence and feedback rates per day
    charts.py   those rates as an SVG line chart, the daily model cost as bars (on the
                plot area the simulation report draws on too: core/charts.py)
    routes.py   the pages: overview, sync, conversations, rates, knowledge gaps
                (core/gaps.py), simulation reports, model cost (core/budget.py), and the
                pages plugins add (`register_dashboard_pages`: snippets, escalations)
"""
