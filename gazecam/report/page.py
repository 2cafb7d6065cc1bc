"""Pieces every report page shares: the style sheet and inline PNG images (a leaf of the report package)."""

from __future__ import annotations

import base64
from html import escape

__all__ = ["_CSS", "_img"]

_CSS = """
:root { --ink:#1d2430; --muted:#5b6575; --line:#dde2ea; --bg:#f6f7f9; --warn:#b42318; --caution:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color:var(--ink); background:var(--bg); }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
h1 { font-size:26px; margin:0 0 2px; } h2 { font-size:21px; margin:34px 0 6px; padding-top:14px;
     border-top:2px solid var(--line); } h3 { font-size:16px; margin:22px 0 8px; }
.sub { color:var(--muted); margin:0 0 14px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:10px 0;
        overflow-x:auto; }
.facts { display:grid; grid-template-columns:repeat(auto-fill, minmax(215px, 1fr)); gap:8px 18px; }
.facts div b { display:block; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
               font-weight:600; }
.facts div span { overflow-wrap:anywhere; }
.banner { border-radius:8px; padding:10px 14px; margin:10px 0; font-weight:600; }
.banner.warn { background:#fde8e7; color:var(--warn); border:1px solid #f4b4ae; }
.banner.caution { background:#fff4d6; color:var(--caution); border:1px solid #f0d589; }
.banner.ok { background:#e8f5ec; color:#1e6b3a; border:1px solid #b5dfc2; font-weight:500; }
.grid2 { display:grid; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); gap:14px; align-items:start; }
@media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } }
figure { margin:0; } figure img { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 9px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); font-weight:600; }
th:first-child, td:first-child { text-align:left; }
td.txt { text-align:left; white-space:normal; }
table.compact th, table.compact td { padding:5px 6px; font-size:14px; }
.grid2.wide-right { grid-template-columns:minmax(0, 5fr) minmax(0, 7fr); }
.chip { display:inline-block; min-width:34px; padding:1px 7px; border-radius:10px; color:#fff; font-weight:700;
        text-align:center; text-shadow:0 0 2px rgba(0,0,0,.45); }
.pct { color:var(--muted); font-size:12px; margin-left:4px; }
.empty { color:var(--muted); font-style:italic; }
ul.notes { margin:6px 0; padding-left:20px; color:var(--muted); }
footer { color:var(--muted); font-size:12px; margin-top:40px; }
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
