"""A generated statement site (English and Chinese pages from `bench/templates/`), and a
static server for it running in a process of its own, with a timed request log."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).parent / "templates"
BODY_BYTES = 8_000  # article text per page; the page around it brings a page to ~16 KB

_EN_VOCABULARY = (
    "the ministry government minister foreign affairs cooperation security development "
    "dialogue sovereignty economic trade partners region peace stability citizens consular "
    "agreement council policy spokesperson remarks press conference announcement bilateral "
    "relations mutual respect principle commitment summit delegation talks framework "
    "investment infrastructure climate health education exchanges friendship people "
    "international community responsible constructive efforts support initiative global "
    "multilateral united nations resolution sanctions humanitarian assistance border "
    "maritime territorial integrity interference internal affairs strongly opposes urges "
    "side concerned measures long-term strategic partnership comprehensive"
)
EN_WORDS = _EN_VOCABULARY.split()
EN_OPENINGS = (
    "Spokesperson said that",
    "The Ministry of Foreign Affairs stated that",
    "In response to a question, the spokesperson noted that",
    "Both sides agreed that",
    "The minister stressed that",
    "According to the joint statement,",
)
_ZH_VOCABULARY = (
    "外交部发言人 表示 中方 坚决反对 有关国家 合作 发展 安全 稳定 和平 对话 经济 贸易 伙伴 "
    "地区 公民 领事 协议 政策 双边关系 相互尊重 原则 承诺 峰会 代表团 会谈 框架 投资 基础设施 "
    "气候变化 卫生 教育 交流 友谊 人民 国际社会 负责任 建设性 努力 支持 倡议 全球 多边主义 "
    "联合国 决议 制裁 人道主义 援助 边境 海洋 领土完整 干涉 内政 敦促 有关方面 措施 长期 战略 "
    "伙伴关系 全面 推动 构建 人类命运共同体 高质量 共建 一带一路 务实合作 开放 共赢"
)
ZH_PHRASES = _ZH_VOCABULARY.split()
ZH_OPENINGS = (
    "发言人表示，",
    "外交部指出，",
    "中方认为，",
    "双方一致认为，",
    "部长强调，",
    "联合声明指出，",
)


@dataclass(frozen=True)
class GeneratedSite:
    root: Path
    pages: list[str]  # URL paths of the statement pages, in order
    average_bytes: int

    def sitemap_path(self, count: int) -> str:
        return f"/sitemap-{count}.xml"


def _english(rng: random.Random, n: int) -> tuple[str, list[str]]:
    title = (
        f"Statement {n} on "
        + " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(4, 8))).capitalize()
    )
    paragraphs: list[str] = []
    size = 0
    while size < BODY_BYTES:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            words = " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(10, 24)))
            sentences.append(f"{rng.choice(EN_OPENINGS)} {words}.")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph) + 7
    paragraphs[0] = f"(Statement number {n}.) " + paragraphs[0]
    return title, paragraphs


def _chinese(rng: random.Random, n: int) -> tuple[str, list[str]]:
    title = f"第{n}号声明：" + "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(4, 7)))
    paragraphs: list[str] = []
    size = 0
    while size < BODY_BYTES:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            words = "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(6, 14)))
            sentences.append(f"{rng.choice(ZH_OPENINGS)}{words}。")
        paragraph = "".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 7
    paragraphs[0] = f"（第{n}号）" + paragraphs[0]
    return title, paragraphs


def _links(rng: random.Random, prefix: str, total: int, count: int, words: tuple[str, ...]) -> str:
    items = []
    for _ in range(count):
        other = rng.randrange(total)
        label = " ".join(rng.choice(words) for _ in range(5))
        items.append(f'<li><a href="/{prefix}/{other:05d}.html">{escape(label)}</a></li>')
    return "".join(items)


def generate(root: Path, count: int, seed: int = 7) -> GeneratedSite:
    """Write `count` statement pages (every third one Chinese), sitemaps and robots.txt."""
    templates = {
        lang: Template((TEMPLATES / f"statement_{lang}.html").read_text(encoding="utf-8"))
        for lang in ("en", "zh")
    }
    rng = random.Random(seed)
    pages: list[str] = []
    total_bytes = 0
    first_day = date(2023, 1, 1)
    for n in range(count):
        lang = "zh" if n % 3 == 2 else "en"
        title, paragraphs = (_chinese if lang == "zh" else _english)(rng, n)
        day = first_day + timedelta(days=n // 3)
        published = f"{day.isoformat()}T{10 + n % 8:02d}:30:00+08:00"
        human = f"{day.year}-{day.month:02d}-{day.day:02d} {10 + n % 8:02d}:30"
        words = tuple(ZH_PHRASES if lang == "zh" else EN_WORDS)
        slug = f"{n:05d}"
        html = templates[lang].substitute(
            title=escape(title),
            short_title=escape(title[:40]),
            description=escape(paragraphs[0][:150]),
            published=published,
            published_human=human,
            slug=slug,
            body="\n".join(f"    <p>{escape(p)}</p>" for p in paragraphs),
            latest=_links(rng, lang, count, 8, words),
            related=_links(rng, lang, count, 6, words),
        )
        data = html.encode("utf-8")
        path = f"/{lang}/{slug}.html"
        target = root / lang / f"{slug}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        pages.append(path)
        total_bytes += len(data)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="ascii")
    site = GeneratedSite(root, pages, total_bytes // max(count, 1))
    for size in sorted({count, min(count, 1000)}):
        write_sitemap(root, site, size)
    return site


def write_sitemap(root: Path, site: GeneratedSite, count: int) -> None:
    entries = "".join(f"<url><loc>{{{{base}}}}{path}</loc></url>\n" for path in site.pages[:count])
    (root / site.sitemap_path(count).lstrip("/")).write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</urlset>\n",
        encoding="utf-8",
    )


# --- The server, in a process of its own ----------------------------------------------


def serve(root: Path) -> None:
    """`python -m bench.site ROOT`: serve ROOT; commands on stdin, answers on stdout as JSON.

    Prints the base URL first; then `log` answers the request targets and their arrival
    times, `clear` empties the log, `stop` (or end of input) stops.
    """
    from tests.sites.server import RequestLog, SiteServer

    times: list[float] = []

    class TimedLog(RequestLog):
        def append(self, target: str) -> None:
            times.append(time.time())  # list.append is atomic under the GIL
            super().append(target)

        def clear(self) -> None:
            super().clear()
            times.clear()

    server = SiteServer(root)
    server._log = TimedLog()  # the fixture server's log, with arrival times
    server.start()
    print(json.dumps(server.base_url), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "log":
            print(json.dumps([server.requests, list(times)]), flush=True)
        elif command == "clear":
            server.clear_requests()
            print("true", flush=True)
        else:
            break
    server.stop()


class ServedSite:
    """Serves `root` on 127.0.0.1 from another process (its threads do not share our GIL)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ServedSite:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.site", str(self.root)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = self._read()
        return self

    def _read(self) -> Any:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the site server for {self.root} stopped")
        return json.loads(line)

    def _ask(self, command: str) -> Any:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return self._read()

    def log(self) -> tuple[list[str], list[float]]:
        """Request targets so far and the wall-clock time each arrived."""
        targets, times = self._ask("log")
        return targets, times

    def clear(self) -> None:
        self._ask("clear")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        try:
            self._process.communicate("stop\n", timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
