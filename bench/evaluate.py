"""`make eval` (`python -m bench.evaluate DIR`): the cleaner beside plain trafilatura.

The evaluation folder (not part of the repo; see its README.md) holds up to four subsets:

- `aeb/`: English articles, `ground-truth.json` `{id: {"url", "articleBody"}}`, scored with
  the article-extraction-benchmark metric: `\\w+` tokens, word 4-gram shingles counted with
  multiplicity, tp/fp/fn per page divided by tp+fp+fn so every page weighs the same,
  precision = mean(tp)/(mean(tp)+mean(fp)), recall likewise with fn, and F1 from those;
- `cjk/`: Chinese and Japanese articles, `{id: {"url", "content"}}`, the same metric with
  each CJK character one token (Latin words and numbers stay whole);
- `real/`: pages with `gold.json` `{name: {"first", "last", "title", "date"}}`, four checks
  per page (body kept, no boilerplate left, title, date), each failure named;
- `wechat/`: WeChat pages with `gold.json` `{name: {"status", "title", "issuer",
  "published", "reason"}}`: the status, and for articles the exact metadata;
- `realworld/`: trafilatura's own real-world test pages, `expectations.json` with strings
  each page's text must include and must not: a page passes when all of them hold. Reader
  comments are not part of a statement, so include strings that sit in a comment (tagged
  so, or found by `trafilatura.extract` only with comments on) are counted apart; the
  pages lost where plain trafilatura (`include_comments=False`) passes are named. Plain
  trafilatura is the same call as on the other subsets, whose text is `extract`'s (checked
  on all 86 pages: the same but for whitespace around it), so its speed compares alike.

Both extractors run in this process on the same bytes; speed is pages per CPU-second of
this single-threaded process, i.e. pages per second per core.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from unicodedata import normalize

from archive.clean import STATUS_EMPTY, STATUS_OK, clean_page

# Evaluation pages are old; a fixed "today" keeps results reproducible.
EVAL_TODAY = date(2030, 1, 1)
SHINGLE = 4
# A page's recall below trafilatura's by more than this is a regression worth naming.
RECALL_SLACK = 0.05

_WORD = re.compile(r"\w+")
_CJK_CHARS = (
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u31f0-\u31ff"
    r"\U00020000-\U0002ffff"
)
_CJK_TOKEN = re.compile(rf"[{_CJK_CHARS}]|(?:(?![{_CJK_CHARS}])\w)+")


# --- extractors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """What an extractor made of one page."""

    status: str
    text: str
    title: str | None = None
    published: str | None = None
    issuer: str | None = None
    reason: str | None = None


Extractor = Callable[[bytes, str], Output]


def communique_extract(body: bytes, url: str) -> Output:
    cleaned = clean_page(body, url, today=EVAL_TODAY)
    return Output(
        status=cleaned.status,
        text=cleaned.text or "",
        title=cleaned.title,
        published=cleaned.published,
        issuer=cleaned.issuer,
        reason=cleaned.reason,
    )


def trafilatura_extract(body: bytes, url: str) -> Output:
    """Plain trafilatura as the eval README measured it: default settings, no comments."""
    from trafilatura import bare_extraction

    document = bare_extraction(body, url=url or None, include_comments=False, with_metadata=True)
    if document is None or isinstance(document, dict):
        return Output(status=STATUS_EMPTY, text="")
    # As `extract` returns it: NFC, no surrounding whitespace.
    text = normalize("NFC", document.text or "").strip()
    return Output(
        status=STATUS_OK if text.strip() else STATUS_EMPTY,
        text=text,
        title=document.title,
        published=document.date,
        issuer=document.author or document.sitename,
    )


EXTRACTORS: dict[str, Extractor] = {
    "communique": communique_extract,
    "trafilatura": trafilatura_extract,
}


def trafilatura_text(body: bytes, url: str, comments: bool) -> str:
    """`trafilatura.extract`'s text, as trafilatura's own real-world tests call it."""
    from trafilatura import extract

    return extract(body, url=url or None, include_comments=comments) or ""


# --- scoring ---------------------------------------------------------------------------


def word_tokens(text: str) -> list[str]:
    return _WORD.findall(text or "")


def cjk_tokens(text: str) -> list[str]:
    """Each CJK character a token; runs of other word characters (Latin, digits) whole."""
    return _CJK_TOKEN.findall(text or "")


def shingles(tokens: list[str], n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Word n-grams with multiplicity; a text shorter than n is one shingle (as the AEB)."""
    if not tokens:
        return Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


@dataclass(frozen=True)
class PageScore:
    tp: float
    fp: float
    fn: float
    exact: bool

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def score_page(gold: str, predicted: str, tokenize: Callable[[str], list[str]]) -> PageScore:
    """tp, fp and fn of one page as shares of tp+fp+fn; no prediction is fn = 1."""
    gold_tokens, predicted_tokens = tokenize(gold), tokenize(predicted)
    exact = gold_tokens == predicted_tokens
    if not predicted_tokens:
        return PageScore(0.0, 0.0, 1.0, exact)
    truth, guess = shingles(gold_tokens), shingles(predicted_tokens)
    tp = sum((truth & guess).values())
    fp = sum((guess - truth).values())
    fn = sum((truth - guess).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(1.0, 0.0, 0.0, exact)
    return PageScore(tp / total, fp / total, fn / total, exact)


@dataclass(frozen=True)
class ShingleScore:
    pages: int
    precision: float
    recall: float
    f1: float
    accuracy: float


def aggregate(scores: list[PageScore]) -> ShingleScore:
    if not scores:
        return ShingleScore(0, 0.0, 0.0, 0.0, 0.0)
    count = len(scores)
    tp = sum(score.tp for score in scores) / count
    fp = sum(score.fp for score in scores) / count
    fn = sum(score.fn for score in scores) / count
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(score.exact for score in scores) / count
    return ShingleScore(count, precision, recall, f1, accuracy)


# Boilerplate a statement's text must never contain, for the real/ checks. Independent of
# the cleaner's own rules on purpose: these are the visible signs a reader would point at.
_LANGUAGE_NAMES = (
    "English|Français|Español|Русский|العربية|中文|简体中文|繁體中文|繁体中文|日本語|한국어|"
    "Deutsch|Português|Italiano|Bahasa Indonesia|Tiếng Việt|Türkçe|ไทย"
)
BOILERPLATE_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "comment form",
        re.compile(
            r"(?im)^\s*(?:leave a (?:reply|comment)|post a comment|add a comment)\b|"
            r"your email address will not be published|required fields are marked|"
            r"^\s*(?:发表评论|写留言|我要评论|网友评论|评论\s*\(\d+\))\s*$"
        ),
    ),
    (
        "share/print bar",
        re.compile(
            r"(?im)^\s*(?:share (?:to|this|on)\s*[:：]?|share\s*[-–]|print\s*\|)|"
            r"【\s*(?:打印|关闭|关闭窗口)\s*】|【\s*字体\s*[:：]|\[\s*(?:打印|关闭)\s*\]|"
            r"^\s*(?:分享到|打印本页|关闭窗口|打印|关闭|朋友圈)\s*[:：]?\s*$|^\s*字号\s*[:：]|"
            r"请使用浏览器分享功能|点击右上角微信好友"
        ),
    ),
    (
        "breadcrumb",
        re.compile(
            r"(?im)^\s*(?:current location|current position|you are here)\s*[:：]|"
            r"^\s*(?:当前位置|您现在的位置|您的位置|您当前的位置)\s*[:：]?"
        ),
    ),
    (
        "previous/next",
        re.compile(
            r"(?im)^\s*(?:上一篇|下一篇|上一条|下一条)\s*[:：]?|"
            r"^\s*(?:previous|next) (?:article|post|story)\s*[:：]?"
        ),
    ),
    (
        "related list",
        re.compile(
            r"(?im)^\s*(?:related(?: articles| news| stories| posts)?|you may also like|"
            r"相关(?:文章|新闻|阅读|链接|报道)|推荐阅读|延伸阅读|猜你喜欢|热门文章|"
            r"喜欢此内容的人还喜欢|精彩视频推荐|加载更多)\s*[:：]?\s*$|"
            r"^\s*(?:推荐阅读|相关(?:文章|新闻|阅读|链接|报道)|延伸阅读)\s*[:：]|"
            r"我们将会减少此类文章的推荐"
        ),
    ),
    (
        "copyright footer",
        re.compile(
            r"(?im)^\s*(?:copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4})|版权所有|ICP备|ICP证|"
            r"公网安备|all rights reserved\.?\s*$"
        ),
    ),
    (
        "wechat prompt",
        re.compile(
            r"(?m)微信扫一扫|关注该公众号|使用小程序|预览时标签不可点|^\s*阅读原文\s*$|"
            r"轻点两下取消|继续滑动看下一个|向上滑动看下一个|识别(?:图中)?二维码|长按二维码|"
            r"扫码关注|长按识别"
        ),
    ),
    (
        "language menu",
        re.compile(rf"(?im)^[^\n]{{0,40}}(?:(?:{_LANGUAGE_NAMES})[\s|/·•]*){{3,}}$"),
    ),
)


def boilerplate_left(text: str, title: str | None = None) -> list[str]:
    """Names of the boilerplate signs found in a text (and a title repeated at its top)."""
    found = [name for name, pattern in BOILERPLATE_SIGNS if pattern.search(text)]
    first = next((line for line in text.splitlines() if line.strip()), "")
    if title and _compact(first) == _compact(title):
        found.append("title repeated")
    return found


def _compact(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def real_failures(gold: dict[str, str], out: Output) -> list[str]:
    """The real/ checks one page fails: body, boilerplate, title, date."""
    failures = []
    text = _compact(out.text)
    missing = [part for part in ("first", "last") if _compact(gold.get(part)) not in text]
    if out.status != STATUS_OK or missing:
        failures.append("body lost" + (f" ({', '.join(missing)})" if missing else ""))
    left = boilerplate_left(out.text, gold.get("title"))
    if left:
        failures.append("boilerplate: " + ", ".join(left))
    if " ".join((out.title or "").split()) != " ".join(gold.get("title", "").split()):
        failures.append(f"title {out.title!r}")
    if (out.published or "")[:10] != gold.get("date"):
        failures.append(f"date {out.published!r}")
    return failures


def wechat_failures(gold: dict[str, str], out: Output) -> list[str]:
    failures = []
    if out.status != gold.get("status"):
        failures.append(f"status {out.status!r} (want {gold.get('status')!r})")
    if gold.get("status") != STATUS_OK:
        if out.text:
            failures.append("statement text on an unavailable page")
        return failures
    for key in ("title", "issuer", "published"):
        want = gold.get(key)
        if want is not None and getattr(out, key) != want:
            failures.append(f"{key} {getattr(out, key)!r} (want {want!r})")
    return failures


# --- running ---------------------------------------------------------------------------


@dataclass
class Run:
    """One extractor over one subset."""

    seconds: float = 0.0
    pages: int = 0
    shingle: ShingleScore | None = None
    page_scores: dict[str, PageScore] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)  # page -> failed checks
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)  # check -> (passed, of)


@dataclass
class Subset:
    name: str
    runs: dict[str, Run] = field(default_factory=dict)
    regressions: list[str] = field(default_factory=list)
    # realworld/: pages the cleaner fails where plain trafilatura passes (comments aside).
    lost: list[str] | None = None  # page names


@dataclass
class Report:
    subsets: list[Subset] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def run(self, subset: str, extractor: str = "communique") -> Run | None:
        for item in self.subsets:
            if item.name == subset:
                return item.runs.get(extractor)
        return None


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _page_file(folder: Path, name: str) -> Path | None:
    for candidate in (
        folder / "html" / f"{name}.html.gz",
        folder / "html" / f"{name}.html",
        folder / f"{name}.html.gz",
        folder / f"{name}.html",
    ):
        if candidate.is_file():
            return candidate
    return None


def _pages(folder: Path, gold: dict[str, Any]) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    for name in sorted(gold):
        path = _page_file(folder, name)
        if path is not None:
            yield name, _read(path), gold[name]


def warm_up(extractors: dict[str, Extractor]) -> None:
    """One untimed page each, so models and tables load before the clock runs."""
    page = (
        b"<html><head><title>Warm up</title></head><body><article><p>"
        + (b"A statement of some length, to be extracted and detected. " * 8)
        + b"</p></article></body></html>"
    )
    for extractor in extractors.values():
        extractor(page, "https://example.org/warm-up")


def _runs(
    folder: Path, gold: dict[str, Any], subset: Subset, extractors: dict[str, Extractor]
) -> Iterator[tuple[str, dict[str, Any], Run, Output]]:
    """Every page through every extractor, timed into its run: (page, gold, run, output)."""
    for page, body, truth in _pages(folder, gold):
        for key, extractor in extractors.items():
            start = time.process_time()
            out = extractor(body, truth.get("url") or "")
            run = subset.runs[key]
            run.seconds += time.process_time() - start
            run.pages += 1
            yield page, truth, run, out


def _shingle_subset(
    name: str,
    folder: Path,
    text_key: str,
    tokenize: Callable[[str], list[str]],
    extractors: dict[str, Extractor],
) -> Subset:
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    subset = Subset(name, {key: Run() for key in extractors})
    ours, theirs = subset.runs.get("communique"), subset.runs.get("trafilatura")
    our_texts: dict[str, str] = {}
    for page, truth, run, out in _runs(folder, gold, subset, extractors):
        run.page_scores[page] = score_page(truth.get(text_key) or "", out.text, tokenize)
        if run is ours:
            our_texts[page] = out.text
    for run in subset.runs.values():
        run.shingle = aggregate(list(run.page_scores.values()))
    if ours and theirs:
        for page, score in sorted(ours.page_scores.items()):
            other = theirs.page_scores.get(page)
            if other and score.recall < other.recall - RECALL_SLACK:
                missing = gold_lines_missing(gold[page].get(text_key) or "", our_texts[page])
                subset.regressions.append(
                    f"{page}: recall {score.recall:.3f} vs trafilatura {other.recall:.3f}"
                    + "".join(f"\n    gold line not kept: {line}" for line in missing)
                )
    return subset


MAX_MISSING_SHOWN = 4


def gold_lines_missing(gold: str, predicted: str) -> list[str]:
    """The gold's lines the prediction lacks, shortened: what a reader judges a miss by."""
    have = _compact(predicted)
    missing = [line.strip() for line in gold.splitlines() if _compact(line) not in have]
    shown = [line if len(line) <= 70 else line[:69] + "…" for line in missing if line]
    return shown[:MAX_MISSING_SHOWN]


_REAL_CHECKS = ("body kept", "no boilerplate", "title", "date")


# --- realworld/: must-include and must-exclude strings ----------------------------------

COMMENT_TAG = "comment"
REALWORLD_ASIDE = "pages, comments aside"
REALWORLD_ALL = "pages, with comments"


@dataclass(frozen=True)
class Expectation:
    """One page of realworld/: strings its text must hold and must not."""

    name: str
    file: str
    url: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    comments: frozenset[str]  # include strings that sit in reader comments


def read_expectations(folder: Path) -> list[Expectation]:
    data = json.loads((folder / "expectations.json").read_text(encoding="utf-8"))
    cases = []
    for case in data.get("cases", []):
        tags: dict[str, list[str]] = case.get("tags") or {}
        cases.append(
            Expectation(
                name=case["id"],
                file=case["file"],
                url=case.get("url") or "",
                include=tuple(case.get("include") or ()),
                exclude=tuple(case.get("exclude") or ()),
                comments=frozenset(s for s, where in tags.items() if COMMENT_TAG in where),
            )
        )
    return cases


def string_failures(case: Expectation, text: str, comments: bool) -> list[str]:
    """`missing "…"` for each include string not in `text`, `kept "…"` for each exclude
    string in it; with `comments` False the comment strings are not asked for."""
    failures = [
        f"missing {wanted!r}"
        for wanted in case.include
        if wanted not in text and (comments or wanted not in case.comments)
    ]
    failures += [f"kept {unwanted!r}" for unwanted in case.exclude if unwanted in text]
    return failures


def _realworld_subset(folder: Path, extractors: dict[str, Extractor]) -> Subset:
    cases = read_expectations(folder)
    subset = Subset("realworld", {key: Run() for key in extractors})
    aside: dict[str, dict[str, list[str]]] = {key: {} for key in extractors}
    for case in cases:
        path = folder / case.file
        if not path.is_file():
            continue
        body = _read(path)
        # Strings only trafilatura's comment extraction finds are comments too (untimed).
        with_comments = trafilatura_text(body, case.url, comments=True)
        without = trafilatura_text(body, case.url, comments=False)
        found_in_comments = {s for s in case.include if s in with_comments and s not in without}
        case = replace(case, comments=case.comments | found_in_comments)
        for key, extractor in extractors.items():
            start = time.process_time()
            out = extractor(body, case.url)
            run = subset.runs[key]
            run.seconds += time.process_time() - start
            run.pages += 1
            failed = string_failures(case, out.text, comments=False)
            if failed:
                aside[key][case.name] = failed
            every = string_failures(case, out.text, comments=True)
            for check, ok in ((REALWORLD_ASIDE, not failed), (REALWORLD_ALL, not every)):
                passed, total = run.checks.get(check, (0, 0))
                run.checks[check] = (passed + ok, total + 1)
    for key, run in subset.runs.items():
        run.failures = aside[key]
    ours, theirs = aside.get("communique"), aside.get("trafilatura")
    if ours is not None and theirs is not None:
        subset.lost = [page for page in ours if page not in theirs]
    return subset


def _check_subset(
    name: str,
    folder: Path,
    judge: Callable[[dict[str, str], Output], list[str]],
    checks: Iterable[str],
    extractors: dict[str, Extractor],
) -> Subset:
    gold = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    checks = tuple(checks)
    subset = Subset(name, {key: Run() for key in extractors})
    for page, truth, run, out in _runs(folder, gold, subset, extractors):
        failed = judge(truth, out)
        if failed:
            run.failures[page] = failed
        for check in checks:
            passed, total = run.checks.get(check, (0, 0))
            ok = not any(_failure_check(failure) == check for failure in failed)
            run.checks[check] = (passed + ok, total + 1)
    return subset


def _failure_check(failure: str) -> str:
    """Which named check a failure message belongs to."""
    for prefix, check in (
        ("body lost", "body kept"),
        ("boilerplate", "no boilerplate"),
        ("title", "title"),
        ("date", "date"),
        ("status", "status"),
        ("statement text", "status"),
        ("issuer", "issuer"),
        ("published", "published"),
    ):
        if failure.startswith(prefix):
            return check
    return failure


def evaluate(eval_dir: Path, extractors: dict[str, Extractor] | None = None) -> Report:
    """Run every extractor over every subset present in `eval_dir`."""
    extractors = extractors or EXTRACTORS
    warm_up(extractors)
    report = Report()
    plans: list[tuple[str, str, Callable[[Path], Subset]]] = [
        (
            "aeb",
            "ground-truth.json",
            lambda f: _shingle_subset("aeb", f, "articleBody", word_tokens, extractors),
        ),
        (
            "cjk",
            "ground-truth.json",
            lambda f: _shingle_subset("cjk", f, "content", cjk_tokens, extractors),
        ),
        (
            "real",
            "gold.json",
            lambda f: _check_subset("real", f, real_failures, _REAL_CHECKS, extractors),
        ),
        (
            "wechat",
            "gold.json",
            lambda f: _check_subset(
                "wechat",
                f,
                wechat_failures,
                ("status", "title", "issuer", "published"),
                extractors,
            ),
        ),
        ("realworld", "expectations.json", lambda f: _realworld_subset(f, extractors)),
    ]
    for name, gold_file, plan in plans:
        folder = eval_dir / name
        if not (folder / gold_file).is_file():
            report.skipped.append(f"{name}/: skipped (no {name}/{gold_file} in {eval_dir})")
            continue
        report.subsets.append(plan(folder))
    return report


# --- the table -------------------------------------------------------------------------


def _speed(run: Run) -> float:
    return run.pages / run.seconds if run.seconds > 0 else 0.0


def format_report(report: Report) -> str:
    """A plain-text table: each subset's figures for the cleaner and plain trafilatura."""
    names = list(EXTRACTORS)
    for subset in report.subsets:
        names = list(subset.runs)
        break
    header = f"{'subset':<10} {'measure':<22}" + "".join(f" {name:>13}" for name in names)
    rows = [header, "-" * len(header)]

    def row(subset: str, measure: str, values: Iterable[str]) -> None:
        rows.append(f"{subset:<10} {measure:<22}" + "".join(f" {value:>13}" for value in values))

    total_pages = dict.fromkeys(names, 0)
    total_seconds = dict.fromkeys(names, 0.0)
    for subset in report.subsets:
        runs = [subset.runs[name] for name in names]
        for name, run in zip(names, runs, strict=True):
            total_pages[name] += run.pages
            total_seconds[name] += run.seconds
        first = runs[0]
        if first.shingle is not None:
            pages = first.shingle.pages
            row(subset.name, f"pages ({pages})", ("" for _ in runs))
            for label, attr in (
                ("F1", "f1"),
                ("precision", "precision"),
                ("recall", "recall"),
                ("accuracy", "accuracy"),
            ):
                row("", label, (f"{getattr(run.shingle, attr):.3f}" for run in runs))
        else:
            row(subset.name, f"pages ({first.pages})", ("" for _ in runs))
            for check in first.checks:
                row("", check, (f"{run.checks[check][0]}/{run.checks[check][1]}" for run in runs))
            if subset.lost is None:
                row(
                    "",
                    "all checks",
                    (f"{run.pages - len(run.failures)}/{run.pages}" for run in runs),
                )
            else:
                row("", "lost vs trafilatura", [str(len(subset.lost))])
        row("", "pages/s per core", (f"{_speed(run):.1f}" for run in runs))
    if report.subsets:
        speeds = {
            name: total_pages[name] / total_seconds[name] if total_seconds[name] else 0.0
            for name in names
        }
        row("all", "pages/s per core", (f"{speeds[name]:.1f}" for name in names))
        if len(names) > 1 and speeds[names[1]]:
            row("", f"speed vs {names[1]}", [f"{speeds[names[0]] / speeds[names[1]]:.2f}x"])

    lines = [*rows]
    for subset in report.subsets:
        ours = subset.runs.get(names[0])
        if ours and ours.failures:
            lines.append("")
            lines.append(f"{subset.name}: {names[0]} failures")
            lines.extend(f"  {page}: {'; '.join(failed)}" for page, failed in ours.failures.items())
        if subset.lost:
            lines.append("")
            lines.append(
                f"{subset.name}: pages {names[0]} fails where {names[1]} passes (comments"
                f" aside): {', '.join(subset.lost)}"
            )
        if subset.regressions:
            lines.append("")
            lines.append(f"{subset.name}: pages whose recall is more than {RECALL_SLACK} below")
            lines.extend(f"  {item}" for item in subset.regressions)
    if report.skipped:
        lines.append("")
        lines.extend(report.skipped)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.evaluate",
        description="Score the cleaner on evaluation pages beside plain trafilatura.",
        epilog="Example: python -m bench.evaluate ../shared/eval",
    )
    parser.add_argument("eval_dir", nargs="?", default="../shared/eval", type=Path)
    args = parser.parse_args(argv)
    if not args.eval_dir.is_dir():
        print(f"Error: {args.eval_dir}: no such folder of evaluation data", file=sys.stderr)
        return 2
    print(format_report(evaluate(args.eval_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
