"""WeChat official-account pages (mp.weixin.qq.com): metadata from the page's own scripts.

An article's body is `#js_content`, served hidden (`visibility: hidden`) and often built
from `<section>`/`<span>` without a single `<p>`; its metadata lives in inline scripts
(`var ct = "1721700900"`, `var nickname = htmlDecode("…")`, `var biz = "" || "MzA…=="`).
Pages that say the article is gone (deleted, blocked, expired) or put up a captcha are
recognised by their own words, in Chinese and English.

The identity of an article is `wechat:<biz>/<mid>/<idx>`: biz names the account, mid the
message (appmsgid) and idx its place in that message, which together pick out one article.
`sn` is a signature over the same triple, and old pages leave it empty, so it is kept in
`wechat` but not in the key: the short `/s/<id>` link and the long link give the same key.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from lxml.html import HtmlElement

WECHAT_HOSTS = ("mp.weixin.qq.com", "weixin.qq.com")
CHINA = ZoneInfo("Asia/Shanghai")

# `var ct = "1581517074";`, `window.ct = '1759817591' || '';`, `d.ct = xml ? … : '…';`
_ASSIGN = re.compile(r"(?:\bvar\s+|\bwindow\.|\bd\.)([A-Za-z_]\w*)\s*=(?!=)\s*([^;\n]*)")
_STRING = re.compile(r"""'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)\"""")
_XML_LOOKUP = re.compile(r"""getXmlValue\(\s*(?:'[^']*'|"[^"]*")\s*\)""")
_JS_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)")
_DIGITS = re.compile(r"^\d{9,11}$")

# Script variables we read, and the names they go by across page generations.
_VARIABLES = {
    "ct": ("ct", "create_time", "createTimestamp"),
    "nickname": ("nickname", "nick_name"),
    "title": ("msg_title",),
    "biz": ("biz",),
    "mid": ("mid", "appmsgid"),
    "idx": ("idx", "itemidx"),
    "sn": ("sn",),
    "user_name": ("user_name",),
    "msg_source_url": ("msg_source_url",),
    "modify_time": ("modify_time",),
    "item_show_type": ("item_show_type",),
}


@dataclass(frozen=True)
class Gone:
    """A page that says the statement cannot be shown: the status and the page's words."""

    status: str
    reason: str


# (status, phrases). Checked in this order: a blocked page may also say "cannot be viewed".
_GONE_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "deleted",
        (
            "该内容已被发布者删除",
            "此内容已被发布者删除",
            "该内容已被作者删除",
            "内容已被发布者删除",
            "the content has been deleted by the author",
            "this content has been deleted by the author",
            "content has been deleted",
        ),
    ),
    (
        "blocked",
        (
            "此内容因违规无法查看",
            "该内容因违规无法查看",
            "此内容因涉嫌违反相关法律法规和政策",
            "此内容被多人投诉",
            "该公众号已被屏蔽",
            "此帐号已被屏蔽",
            "此账号已被屏蔽",
            "unable to view this content because it violates",
            "this content has been blocked",
            "this content violates",
        ),
    ),
    (
        "expired",
        (
            "链接已过期",
            "该链接已过期",
            "the link has expired",
            "this link has expired",
            "link expired",
        ),
    ),
    (
        "captcha",
        (
            "环境异常",
            "完成验证后即可继续访问",
            "请完成验证",
            "unusual network environment",
            "environment is abnormal",
            "complete the verification",
        ),
    ),
    (
        "unavailable",
        (
            "该内容暂时无法查看",
            "此内容暂时无法查看",
            "该内容无法查看",
            "此内容无法查看",
            "this content is temporarily unavailable",
            "this content cannot be viewed",
            "content unavailable",
        ),
    ),
)
# The message block of WeChat's error pages, where the page's own words are.
_MESSAGE_CLASSES = ("weui-msg__title", "weui-msg__desc", "mesg-block", "global_error_msg")
_DESC_CUT = re.compile(r"[，,]\s*(?:查看|view)\b.*$|查看对应规则.*$", re.IGNORECASE)
# Above this much visible text a page that merely mentions a phrase is an article.
MAX_GONE_TEXT = 600


def is_wechat_url(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return any(host == name or host.endswith("." + name) for name in WECHAT_HOSTS)


def looks_like_wechat(raw_html: str) -> bool:
    """WeChat article markup, whatever URL the page was saved under."""
    return 'id="js_content"' in raw_html and (
        "var msg_title" in raw_html
        or "window.msg_title" in raw_html
        or "rich_media_content" in raw_html
        or "mp.weixin.qq.com" in raw_html
    )


def _unescape_js(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xu" and len(code) > 1:
            return chr(int(code[1:], 16))
        return {"n": "\n", "t": "\t", "r": ""}.get(code, code)

    return html.unescape(_JS_ESCAPE.sub(replace, value)).replace("\xa0", " ").strip()


def script_variables(scripts: list[str]) -> dict[str, str]:
    """First non-empty string value of each variable we know, across all inline scripts.

    `var mid = "" || "" || "2650934104";` gives "2650934104": the first non-empty literal.
    """
    found: dict[str, str] = {}
    wanted = {alias: key for key, aliases in _VARIABLES.items() for alias in aliases}
    for script in scripts:
        for match in _ASSIGN.finditer(script):
            key = wanted.get(match.group(1))
            if key is None or key in found:
                continue
            expression = _XML_LOOKUP.sub("", match.group(2))
            for literal in _STRING.finditer(expression):
                value = _unescape_js(literal.group(1) or literal.group(2) or "")
                if value:
                    found[key] = value
                    break
    return found


def timestamp(seconds: str | None) -> str | None:
    """Unix seconds as a full ISO 8601 timestamp in China time."""
    if not seconds or not _DIGITS.match(seconds.strip()):
        return None
    moment = datetime.fromtimestamp(int(seconds), tz=CHINA)
    return moment.isoformat()


def identity(biz: str | None, mid: str | None, idx: str | None) -> str | None:
    if not (biz and mid and idx):
        return None
    return f"wechat:{biz}/{mid}/{idx}"


def wechat_identity_from_url(url: str) -> str | None:
    """The identity key of a long WeChat link (`/s?__biz=…&mid=…&idx=…&sn=…`), else None.

    Short `/s/<id>` links carry no key: only the page itself (its scripts) gives one.
    """
    if not is_wechat_url(url):
        return None
    params: dict[str, str] = {}
    for pair in urlsplit(url).query.split("&"):
        name, _, value = pair.partition("=")
        # biz is base64: a literal "+" in it is a plus, not a space.
        params.setdefault(name.lower(), unquote(value).strip())
    return identity(
        params.get("__biz"),
        params.get("mid") or params.get("appmsgid"),
        params.get("idx") or params.get("itemidx"),
    )


def _visible_text(root: HtmlElement) -> str:
    body = root.find("body")
    parts: list[str] = []
    for element in (body if body is not None else root).iter():
        if isinstance(element.tag, str) and element.tag not in ("script", "style", "noscript"):
            parts.extend((element.text or "", " "))
        # Text after a </script> is the script element's tail, and visible.
        parent = element.getparent()
        if element.tail and parent is not None and parent.tag not in ("script", "style"):
            parts.extend((element.tail, " "))
    return " ".join("".join(parts).split())


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def _message_texts(root: HtmlElement) -> list[str]:
    texts = []
    for class_name in _MESSAGE_CLASSES:
        for element in root.find_class(class_name):
            texts.append(_squash(element.text_content()))
    title = root.find(".//title")
    if title is not None:
        texts.append(_squash(title.text_content()))
    return [text for text in texts if text]


def find_gone(root: HtmlElement, wechat: bool) -> Gone | None:
    """The status of a page that says its content is gone or walled off, with its words.

    On a WeChat page the phrase may stand anywhere in a short page; elsewhere only a short
    page whose title or message block is the phrase counts (a news story quoting
    "链接已过期" stays a story).
    """
    visible = _visible_text(root)
    if len(visible) > MAX_GONE_TEXT and not any(root.find_class(name) for name in _MESSAGE_CLASSES):
        return None
    messages = _message_texts(root)
    haystacks = [*messages, visible] if wechat or len(visible) <= MAX_GONE_TEXT else messages
    for status, phrases in _GONE_PHRASES:
        for haystack in haystacks:
            lowered = haystack.lower()
            hit = next((phrase for phrase in phrases if phrase in lowered), None)
            if hit is None:
                continue
            return Gone(status, _reason(root, haystack, hit))
    return None


def _reason(root: HtmlElement, haystack: str, phrase: str) -> str:
    """The page's own sentence, plus its explanation (`由用户投诉…`) when it gives one."""
    titles = [_squash(el.text_content()) for el in root.find_class("weui-msg__title")]
    title = next((text for text in titles if phrase in text.lower()), None)
    if title is None:
        start = haystack.lower().find(phrase)
        end = len(phrase)
        # Carry on to the end of the sentence ("… deleted by the author.").
        rest = haystack[start + end :]
        stop = re.match(r"[^。.!！\s]*[。.!！]?", rest)
        title = haystack[start : start + end + (stop.end() if stop else 0)].strip()
    descs = [_squash(el.text_content()) for el in root.find_class("weui-msg__desc")]
    desc = next((text for text in descs if text and text not in title), None)
    if desc:
        desc = _DESC_CUT.sub("", desc).strip(" ，,。")
        if desc:
            return f"{title} ({desc})"
    return title


@dataclass(frozen=True)
class WechatPage:
    """What a WeChat article page says about itself."""

    title: str | None
    account: str | None
    published: str | None
    identity: str | None
    fields: dict[str, str]
    content: HtmlElement | None
    text_share: bool
    # Text and picture shares: the body the page's script holds, and the pictures' URLs.
    share_text: str | None = None
    pictures: tuple[str, ...] = ()


# `item_show_type` of a picture share (图片消息) and of a text share (短内容); their body is
# not in `#js_content` but in the page's script (`content_noencode: JsDecode('…')`).
PICTURE_SHARE = "8"
TEXT_SHARE = "10"
_JS_LITERAL = r"""(?:JsDecode\(\s*)?('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_SHARE_CONTENT = re.compile(r"\bcontent_noencode\s*:\s*" + _JS_LITERAL)
_PICTURE_LIST = re.compile(r"\bpicture_page_info_list\s*:\s*\[")
_PICTURE_URL = re.compile(r"\bcdn_url\s*:\s*" + _JS_LITERAL)
# A picture share holds at most this many pictures (WeChat allows 20).
MAX_PICTURES = 50


def _literal(quoted: str) -> str:
    """The value of a quoted JavaScript string, `\x26`-style escapes decoded."""
    return _unescape_js(quoted[1:-1])


def share_text(scripts: list[str]) -> str | None:
    """The body of a text or picture share: its `content_noencode`, paragraphs kept."""
    for script in scripts:
        match = _SHARE_CONTENT.search(script)
        if match:
            return _literal(match.group(1)) or None
    return None


def share_pictures(scripts: list[str]) -> tuple[str, ...]:
    """The http(s) URLs of a picture share's pictures (`picture_page_info_list`)."""
    for script in scripts:
        start = _PICTURE_LIST.search(script)
        if start is None:
            continue
        block = script[start.end() : _closing_bracket(script, start.end())]
        urls: list[str] = []
        for match in _PICTURE_URL.finditer(block):
            url = _literal(match.group(1))
            # Only web addresses: a `javascript:` or `data:` "picture" is never archived.
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc and url not in urls:
                urls.append(url)
        return tuple(urls[:MAX_PICTURES])
    return ()


def _closing_bracket(script: str, start: int) -> int:
    """Where the array opened just before `start` closes (brackets in strings skipped)."""
    depth, index, quote = 1, start, ""
    while index < len(script):
        char = script[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return len(script)


def read_page(root: HtmlElement) -> WechatPage:
    """Metadata from the inline scripts and markup, and the `#js_content` element."""
    scripts = [script.text or "" for script in root.iter("script")]
    found = script_variables(scripts)

    account = found.get("nickname")
    if not account:
        for class_name in ("profile_nickname", "wx_follow_nickname"):
            names = [_squash(el.text_content()) for el in root.find_class(class_name)]
            account = next((name for name in names if name), None)
            if account:
                break
    if not account:
        element = root.get_element_by_id("js_name", None)
        account = _squash(element.text_content()) if element is not None else None

    title = found.get("title")
    if not title:
        for meta in root.iter("meta"):
            if meta.get("property") == "og:title" and (meta.get("content") or "").strip():
                title = _squash(meta.get("content"))
                break
    if not title:
        element = root.get_element_by_id("activity-name", None)
        title = _squash(element.text_content()) if element is not None else None

    fields = {
        key: found[name]
        for key, name in (
            ("biz", "biz"),
            ("mid", "mid"),
            ("idx", "idx"),
            ("sn", "sn"),
            ("account", "nickname"),
            ("msg_source_url", "msg_source_url"),
            ("modify_time", "modify_time"),
        )
        if found.get(name)
    }
    if account:
        fields["account"] = account
    modified = timestamp(fields.get("modify_time"))
    if modified:
        fields["modify_time"] = modified
    elif "modify_time" in fields:
        del fields["modify_time"]

    content = root.get_element_by_id("js_content", None)
    show_type = found.get("item_show_type")
    text_share = show_type in (TEXT_SHARE, PICTURE_SHARE) or bool(
        root.find_class("share_content_page")
    )
    return WechatPage(
        title=title or None,
        account=account or None,
        published=timestamp(found.get("ct")),
        identity=identity(found.get("biz"), found.get("mid"), found.get("idx")),
        fields=fields,
        content=content,
        text_share=text_share,
        # Only a share's script speaks for its body: an article's is `#js_content`.
        share_text=share_text(scripts) if text_share else None,
        pictures=share_pictures(scripts) if show_type == PICTURE_SHARE else (),
    )


def has_article(root: HtmlElement) -> bool:
    """An article body with real text: a page quoting "环境异常" in it is still an article."""
    content = root.get_element_by_id("js_content", None)
    return content is not None and len(" ".join(content.text_content().split())) >= 200


# Inside `#js_content` of text shares and new templates: the account card, the repeated
# title, the read count and time row. Never statement text.
_CHROME_IDS = ("js_top_profile", "js_text_title", "js_row_immersive_stream_wrap")
_CHROME_CLASSES = (
    "wx_follow_context",
    "rich_media_meta_list",
    "profile_area_hide",
    "js_share_notice_title",
)


def drop_chrome(content: HtmlElement) -> None:
    doomed = [el for name in _CHROME_CLASSES for el in content.find_class(name)]
    doomed += [el for el in content.iter() if el.get("id") in _CHROME_IDS]
    for element in doomed:
        parent = element.getparent()
        if parent is not None:
            tail = element.tail
            element.tail = None
            parent.remove(element)
            if tail:
                parent.text = (parent.text or "") + tail


def link_texts(content: HtmlElement) -> set[str]:
    """The texts of the body's links: a list of them under "往期推荐" is other posts."""
    texts = {_squash(link.text_content()) for link in content.iter("a")}
    return {text for text in texts if 2 <= len(text) <= 80}
