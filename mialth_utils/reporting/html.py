"""``results/report.html``: the Markdown report as one self-contained page (figures embedded).

The page must open offline, mailed or copied alone, so every image the Markdown references
(``![caption](figures/x.png)``, relative to the results folder) is inlined as a base64 data URI,
and the style sheet is inline too. Markdown is rendered by mistune (CommonMark plus tables).
"""
from __future__ import annotations

import base64
import html
import logging
import mimetypes
import re
from pathlib import Path

import mistune

log = logging.getLogger(__name__)

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; line-height: 1.55;
       color: #1f2328; max-width: 62rem; margin: 2rem auto; padding: 0 1.25rem; }
h1, h2, h3 { line-height: 1.25; margin-top: 1.8em; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .35em .7em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fafbfc; }
img { max-width: 100%; height: auto; display: block; margin: 1em auto; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 4px; font-size: .9em; }
pre { background: #f6f8fa; padding: .8em 1em; overflow-x: auto; border-radius: 6px; }
pre code { padding: 0; background: none; }
blockquote { color: #57606a; border-left: 4px solid #d0d7de; margin: 1em 0; padding: 0 1em; }
.missing { color: #b42318; border: 1px dashed #b42318; padding: .5em; }
"""


class EmbeddingRenderer(mistune.HTMLRenderer):
    """An HTML renderer that inlines local images as data URIs (remote and data URLs are left alone)."""

    def __init__(self, base_dir: Path):
        super().__init__(escape=False)
        self.base_dir = Path(base_dir)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if re.match(r"^(data:|https?:)", url):
            return super().image(text, url, title)
        path = (self.base_dir / url).resolve()
        if not path.is_file():
            log.warning("report image %s not found: shown as missing in report.html", path)
            return f'<span class="missing">missing figure: {html.escape(url)}</span>'
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return super().image(text, f"data:{mime};base64,{data}", title)  # png/jpeg/gif/webp pass mistune's check


def render_html(markdown_text: str, base_dir: str | Path, title: str | None = None) -> str:
    """The whole HTML page for ``markdown_text``; images resolved relative to ``base_dir``."""
    to_html = mistune.create_markdown(renderer=EmbeddingRenderer(Path(base_dir)),
                                      plugins=["table", "strikethrough"])
    body = to_html(markdown_text)
    if title is None:
        heading = re.search(r"^#\s+(.+)$", markdown_text, flags=re.MULTILINE)
        title = heading.group(1).strip() if heading else "mialth report"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def write_html(markdown_text: str, results_dir: str | Path) -> Path:
    """Write ``results_dir/report.html`` from the report's Markdown, figures embedded; return its path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "report.html"
    path.write_text(render_html(markdown_text, results_dir), encoding="utf-8")
    return path
