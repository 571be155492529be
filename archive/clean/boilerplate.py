"""Our own boilerplate rules: whole elements and whole lines that are never statement text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml.html import HtmlElement

# Rules only ever judge a whole element or a whole line, and only short ones: a sentence
# that merely mentions "copyright" or "下一篇" inside a paragraph must survive.
MAX_RULE_CHARS = 400

_SEP_RUN = re.compile(r"[\s|｜/·•・,，、:：>＞»›\-–—_()（）\[\]【】<《》*]+")

_LANGUAGE_NAMES = sorted(
    {
        # native names (the way language menus show them)
        "English", "Français", "Francais", "Español", "Espanol", "Русский язык", "Русский",
        "العربية", "عربي", "中文", "简体中文", "繁體中文", "繁体中文", "简体", "繁體", "繁体",
        "日本語", "日本语", "한국어", "한어", "조선어", "Deutsch", "Português", "Portugues",
        "Italiano", "Bahasa Indonesia", "Bahasa Melayu", "Tiếng Việt", "ไทย", "Türkçe",
        "हिन्दी", "Kiswahili", "Polski", "Nederlands", "Ελληνικά", "Українська", "فارسی",
        "اردو", "Қазақша", "Монгол", "ភាសាខ្មែរ", "ພາສາລາວ", "ລາວ", "မြန်မာ", "Esperanto",
        "Svenska", "Magyar", "Čeština", "Română", "Български", "Српски", "Srpski", "עברית",
        "বাংলা", "Filipino", "Hausa", "Oʻzbekcha", "O'zbek",
        # English and Chinese names of languages
        "Chinese", "Russian", "French", "Spanish", "Arabic", "German", "Japanese", "Korean",
        "Portuguese", "Italian", "Indonesian", "Vietnamese", "Thai", "Turkish", "Malay",
        "Hindi", "Swahili", "Persian", "Urdu", "Mongolian", "Kazakh", "Lao", "Khmer",
        "Burmese", "Dutch", "Polish", "Greek", "Ukrainian", "Hebrew",
        "英文", "英语", "法文", "法语", "俄文", "俄语", "西班牙文", "西班牙语", "阿拉伯文",
        "阿拉伯语", "日文", "日语", "韩文", "韩语", "朝鲜语", "德文", "德语", "葡萄牙文",
        "葡萄牙语", "葡文", "中文版", "英文版", "繁体版", "简体版", "English Version",
        "EN", "ZH", "FR", "ES", "RU", "AR", "DE", "JA", "KO", "PT",
    },
    key=len,
    reverse=True,  # longest first, so "Русский язык" wins over "Русский"
)  # fmt: skip
_LANGUAGE_NAME = re.compile("|".join(re.escape(name) for name in _LANGUAGE_NAMES))
_LANGUAGE_LABEL = re.compile(r"(?i)select language|languages?|多语种|语言|语种")
_LANGUAGE_START = re.compile(
    rf"[\s|｜/·•:：]*(?:(?i:select language|languages?)|多语种|语言|语种|{_LANGUAGE_NAME.pattern})"
)

_TOOL_TOKEN = re.compile(
    r"(?i)打印本页|打印此页|打印文章|打印正文|打印|关闭本页|关闭窗口|关闭|收藏本页|加入收藏|收藏|"
    r"我要纠错|纠错|返回顶部|返回|分享到|分享|字体|字号|默认|保存本页|扫一扫在手机打开当前页|"
    r"微信|微博|QQ空间|QQ|"
    r"print this page|print article|print|close window|close this window|close|"
    r"share this|share to|share on|share|e-?mail this|e-?mail|bookmark|"
    r"font size|text size|font|back to top|top|"
    r"wechat|weibo|facebook|twitter|linkedin|whatsapp|telegram|reddit|pinterest|"
    r"large|medium|small|a\+|a-|[大中小]|\b[alms]\b|\+|-"
)
# Tokens that only count as tools next to a real tool word ("A", "中", "small"...).
_WEAK_TOOL = re.compile(r"(?i)^(?:large|medium|small|a\+|a-|[大中小]|[alms]|\+|-|top|返回|默认)$")

_BREADCRUMB = re.compile(
    r"(?i)^(?:current location|current position|your location|your current location|"
    r"you are here)\s*[:：]|"
    r"^(?:当前位置|您现在的位置|您当前的位置|您的位置|当前的位置|现在位置|所在位置)\s*(?:[:：]|\s|$)|"
    r"^(?:home|首页|网站首页)\s*(?:>|»|›|＞|/|→)"
)
_PREV_NEXT = re.compile(
    r"(?i)^(?:上一篇|下一篇|上一条|下一条|上篇|下篇)\s*(?:[:：]|\s|$)|"
    r"^(?:«\s*)?(?:previous|prev|next)(?: (?:article|post|story|item|page|news|entry))?"
    r"\s*(?:[:：»›>]|$)|^(?:older|newer) (?:posts?|entries)$"
)
_RELATED_LABEL = (
    r"(?:related(?: articles?| news| stories| posts| links| content| reading)?|"
    r"you may also like|read more|more news|recent posts|"
    r"don'?t miss|most read(?: in [a-z ]{1,30})?|more|also|see more|"
    r"相关(?:文章|新闻|链接|阅读|稿件|报道|内容|信息)|推荐阅读|延伸阅读|热点推荐|更多阅读|"
    r"猜你喜欢|热门文章|最新文章|精彩推荐|精彩视频推荐|热门推荐|为你推荐|喜欢此内容的人还喜欢|"
    # The list of the account's earlier posts that closes WeChat articles.
    r"往期推荐|往期回顾|往期精选|往期精彩|往期热文|精彩回顾|previous picks|past picks|"
    r"from the archive|recommended reading)"
)
_RELATED = re.compile(rf"(?i)^{_RELATED_LABEL}\s*(?:[:：]|\.{{3}}|…)?$")
_RELATED_START = re.compile(rf"(?i)^{_RELATED_LABEL}(?![a-z])\s*[:：]?")
_COMMENT = re.compile(
    r"(?i)^(?:leave a (?:reply|comment)(?: to .{0,80})?(?: cancel reply)?|cancel reply|"
    r"post (?:a )?comment|add (?:a )?comment|submit comment|comments?(?: \(\d+\))?|"
    r"(?:\d+|one|two|three) (?:thoughts?|comments?|responses?|replies)(?: (?:on|to) .{0,200})?|"
    r"your email address will not be published\.?.{0,80}|required fields are marked \*?|"
    r"(?:发表|我要|网友|精选|写)(?:评论|留言)|评论|留言|写下你的评论.{0,20}|已有\d+条评论)"
    r"\s*[:：]?$"
)
# WeChat's own prompts around an article (QR codes, follow buttons, mini programs).
_WECHAT_PROMPT = re.compile(
    # "点击上方蓝字关注我们" opens many posts: a call to follow the account, not the statement.
    r"(?i)^(?:点击?(?:上方|上面|标题下方?)?(?:蓝字|蓝色字体?|[“\"][^”\"]{1,20}[”\"])\s*"
    r"(?:一键|免费)?关注(?:我们|本号)?.{0,12}|"
    r"(?:tap|click) (?:on )?the blue (?:words?|text|name)(?: above)? to follow(?: us)?.{0,20}|"
    r"微信扫一扫.{0,30}|扫一扫.{0,10}(?:关注|使用|打开).{0,20}|关注该公众号|使用小程序|"
    r"预览时标签不可点|阅读原文|轻触阅读原文|喜欢此内容的人还喜欢|继续滑动看下一个|"
    r"向上滑动看下一个|分享收藏点赞在看|在看|点赞|赞|分享|收藏|听过|写留言|留言|"
    r"知道了|取消|允许|视频|小程序|赞，轻点两下取消赞|在看，轻点两下取消在看|"
    r"scan (?:to follow|with weixin.{0,60})|follow (?:the )?official account|"
    r"use (?:the )?mini program|tags are not clickable in preview|read more|"
    r"people who liked this content also liked|got it|cancel|allow)$"
)
# "推荐阅读：<another article's title>": a one-line promo for another page.
_RELATED_ONE = re.compile(
    r"^(?:推荐阅读|延伸阅读|相关阅读|相关链接|相关新闻|往期回顾|往期推荐)\s*[:：].{1,80}$|"
    r"^(?i:see more|also read|read also)\s*[:：].{1,150}$|"
    # "[Related: Another story's title]" set between paragraphs.
    r"^[\[【(（]\s*(?i:related|read more|read also|推荐阅读|延伸阅读|相关阅读)"
    r"\s*[:：].{1,150}[\]】)）]$"
)
# Mobile share hints of Chinese news sites: "点击右上角微信好友 / 朋友圈 / 请使用浏览器分享功能".
_SHARE_HINT = re.compile(
    r"^(?:点击右上角.{0,12}|朋友圈|微信好友|请使用浏览器(?:的)?分享功能.{0,12}|分享到(?:微信)?朋友圈|"
    r"点击浏览器下方.{0,40}|分享让更多人看到|"
    r"(?i:(?:like this (?:story|article)\?\s*)?"
    r"share (?:it|this) with (?:a friend|your friends)!?))$"
)
# Promos that close WeChat posts and news pages: scan-to-follow ("请识别图中二维码关注…"),
# calls to share ("欢迎分享到朋友圈"), follow-us and newsletter lines.
_CLOSING_PROMO = re.compile(
    r"识别(?:图中)?二维码|长按(?:识别)?二维码|扫(?:描)?(?:二维码|码)关注|长按识别|"
    r"^欢迎(?:大家)?(?:分享|转发|关注|点赞|留言)[^。]{0,16}[~～!！]*$|"
    # Calls to share, like and "在看" (WeChat's "Wow"), and to open "阅读原文" (read more).
    r"^\W*(?:关注我们|欢迎关注|(?i:follow us))\W*$|点个?[“\"]?(?:在看|赞)|点亮[“\"]?在看|"
    r"(?:分享|转发|点赞|在看)[、，,和与及/\s]{0,3}(?:分享|转发|点赞|在看)|点击.{0,3}阅读原文|阅读原文.{0,3}(?:查看|了解|获取)|"
    r"(?i:(?:long[- ]press|scan)\b.{0,30}\bqr code|\bscan to follow\b|"
    r"\b(?:share|like),? (?:like|share)\b.{0,30}\bwow\b|\btap [\"“]?wow\b)|"
    r"^(?i:follow .{1,60} on (?:facebook|twitter|instagram|youtube|weibo|wechat)\b.{0,80}|"
    r"(?:subscribe|sign up) (?:to|for) .{1,60}(?:newsletter|podcast|youtube|channel).{0,40})$"
)
# Video and audio player controls that end up as lines: "倍速", "- 1.5X", "00:00 / 01:45".
_PLAYER = re.compile(
    r"(?i)^(?:-\s*)?(?:倍速|\d(?:\.\d{1,2})?x|\d{1,2}:\d{2}(?::\d{2})?(?:\s*/\s*\d{1,2}:\d{2}(?::\d{2})?)?|"
    r"清晰度|标清|高清|超清|蓝光|自动|播放|暂停|全屏|退出全屏|静音|重播|播报文章|"
    r"时长\s*[:：]\s*\d{1,2}:\d{2}.{0,40}|很抱歉，当前视频播放失败|错误代码\s*[:：]\s*[\w.]{1,20})$"
)
_NAV_LABEL = re.compile(
    r"(?i)^(?:post navigation|posts navigation|skip to content|load more|show more|"
    r"查看更多|加载更多|点击加载更多|点击查看更多|展开全文|展开剩余\d+%)$"
)
# Where the post is filed and how long it takes to read: the site's, not the statement's.
_FILING = re.compile(
    r"(?i)^(?:filed under|posted in|tags|tagged|categories)\s*[:：].{0,120}$|"
    r"^(?:reading time|read time|tempo de leitura|阅读时长|预计阅读时间)\s*[:：]?\s*"
    r"(?:about\s*)?\d+\s*(?:min|minutes?|minutos?|分钟)\.?$|^\d+\s*min(?:ute)? read$"
)
_FOOTER_PREFIX = re.compile(
    r"(?i)^(?:copyright\s*(?:©|\(c\)|&copy;|\d{4})|©|版权所有|技术支持\s*[:：]|网站维护\s*[:：])"
)
# "主办单位：" also opens a line of an event notice; only with a second footer sign is it one.
_SPONSOR_PREFIX = re.compile(r"^(?:主办|承办)(?:单位)?\s*[:：]")
_SPONSOR_FOOTER = re.compile(r"技术支持|网站维护|版权|ICP|网站标识码|公网安备|联系我们|网站地图")
_FOOTER_ANYWHERE = re.compile(
    r"[\u4e00-\u9fff]ICP备|ICP证|公网安备|网站标识码|^(?:违法和不良信息)?举报(?:邮箱|电话)\s*[:：]|"
    # Platforms' notice under a user's post: "特别声明：以上内容…仅提供信息存储服务。"
    r"^[“\"]?特别声明\s*[:：]\s*以上.{0,80}仅提供信息存储(?:空间)?服务"
)
# A wire service's rights notice closing a reprinted story ("© 2019 Associated Press. All
# Rights Reserved. This material may not be published…") is the story's credit, not the
# site's footer: a paragraph among the statement's paragraphs that says how it may be reused.
_REUSE_TERMS = re.compile(
    r"(?i)may not be (?:re)?(?:published|broadcast|reproduced|redistributed|copied|rewritten)|"
    r"未经.{0,12}(?:授权|许可|同意).{0,6}(?:不得|请勿|禁止|严禁)(?:转载|复制|使用|摘编)"
)

_INFO_LABEL = (
    r"(?:发布时间|发布日期|发文日期|成文日期|时间|日期|来源|信息来源|文章来源|稿件来源|作者|"
    r"编辑|责任编辑|浏览次数|阅读次数|点击数|访问量|浏览量|浏览|点击|阅读|字体|字号|"
    r"Time|Date|Source|Author|Editor|Views|Published|Updated|Release date|Font size)"
)
# Labels that split fields even when run into the value before them ("市水利局发布时间：",
# "Ministry of National SecurityTime:"); bare 时间 and lowercase words are not among them.
_GLUED_LABEL = (
    r"发布时间|发布日期|发文日期|成文日期|更新时间|信息来源|文章来源|稿件来源|来源|责任编辑|"
    r"浏览次数|阅读次数|点击数|(?<=[a-z)])(?-i:Time|Date|Source|Author|Editor|Views|Published|"
    r"Updated|Release date)"
)
_INFO_SPLIT = re.compile(
    rf"(?i)((?:^|(?<=\s)|(?<=[|｜】\]]))(?:{_INFO_LABEL})|{_GLUED_LABEL})\s*[:：]"
)
_SENTENCE_END = (".", "!", "?", "。", "！", "？")
_DATE_LINE = re.compile(
    r"^[(（\[【]?(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}[:：]\d{2}(?::\d{2})?)?[)）\]】]?$"
)
# What a statement's last line may be besides its words: its source, editor or date line.
_END_ATTRIBUTION = re.compile(
    r"(?i)^[(（]?(?:来源|信息来源|责任编辑|编辑|Source|Editor|发布时间|发布日期|更新时间|"
    r"(?:Last )?Updated(?: on)?|Published(?: on)?|Posted(?: on)?)\s*[:：]"
)

_INLINE = frozenset(
    ("a", "span", "font", "b", "strong", "em", "i", "u", "label", "small", "big", "sup")
) | frozenset(("sub", "abbr", "cite", "code", "img", "br", "input"))
_SKIP_TEXT = frozenset(("script", "style", "noscript", "template", "select", "option"))
_NEVER_REMOVE = frozenset(("html", "body", "head"))
# A block this long is statement text: what comes before it is the page's header area.
BODY_PARAGRAPH_CHARS = 120

# Where a block sits, for the metadata rules: dates inside lists and links are other pages'.
IN_LINK = "link"
IN_LIST = "list"
_LIST_TAGS = frozenset(("li", "option", "nav"))

_COMMENT_IDS = frozenset(
    ("comments", "respond", "disqus_thread", "commentform", "comment-form", "comments-section")
)
_COMMENT_CLASSES = frozenset(
    (
        "comments-area",
        "comment-list",
        "commentlist",
        "comment-respond",
        "comments",
        "comment-form",
        "comments-section",
        "wp-comments",
    )
)


def squash(text: str) -> str:
    return " ".join(text.split())


def _is_rights_line(text: str) -> bool:
    """`…版权所有…` or `… All rights reserved.`, but not a sentence that uses the words."""
    if "版权所有" in text and not text.endswith(_SENTENCE_END):
        return True
    return len(text) <= 200 and text.lower().rstrip(". ").endswith("all rights reserved")


def _is_toolbar(text: str) -> bool:
    # Cheap rejections first: a toolbar is short and starts with a tool word.
    if len(text) > 120 or not _TOOL_TOKEN.match(_SEP_RUN.sub("", text[:12])):
        return False
    if _SEP_RUN.sub("", _TOOL_TOKEN.sub("", text)):
        return False
    return any(not _WEAK_TOOL.match(token) for token in _TOOL_TOKEN.findall(text))


def _is_language_menu(text: str) -> bool:
    if len(text) > 300 or not _LANGUAGE_START.match(text):
        return False
    stripped = _LANGUAGE_LABEL.sub("", text)
    names, count = _LANGUAGE_NAME.subn("", stripped)
    return count >= 3 and not _SEP_RUN.sub("", names)


def classify(text: str) -> str | None:
    """The boilerplate rule a whole element or line matches, or None for real text."""
    text = squash(text)
    if not text or len(text) > MAX_RULE_CHARS:
        return None
    if _BREADCRUMB.search(text):
        return "breadcrumb"
    if _PREV_NEXT.search(text):
        return "prev_next"
    if _RELATED.match(text) or _RELATED_ONE.match(text):
        return "related"
    if _COMMENT.match(text):
        return "comment_form"
    if _NAV_LABEL.match(text) or _FILING.match(text):
        return "navigation"
    if _WECHAT_PROMPT.match(text):
        return "wechat_prompt"
    if _SHARE_HINT.match(text):
        return "toolbar"
    if _PLAYER.match(text):
        return "player"
    if _FOOTER_PREFIX.search(text) or _FOOTER_ANYWHERE.search(text) or _is_rights_line(text):
        return "footer"
    if _SPONSOR_PREFIX.match(text) and _SPONSOR_FOOTER.search(text):
        return "footer"
    if _is_language_menu(text):
        return "language_menu"
    if _is_toolbar(text):
        return "toolbar"
    return None


def is_info_bar(line: str) -> bool:
    """A line made only of label: value pairs (date, source, author, views, font size)."""
    line = squash(line)
    if len(line) > 160:
        return False
    parts = _INFO_SPLIT.split(line)
    if len(parts) < 3 or parts[0].strip(" |｜"):
        return False
    values = parts[2::2]
    return all(len(squash(re.sub(_TOOL_TOKEN, "", value))) <= 60 for value in values)


# --- the HTML tree --------------------------------------------------------------------


@dataclass
class TreeNotes:
    """What the pruning pass saw, for the metadata and line rules that come after it."""

    blocks: list[tuple[str, str]] = field(default_factory=list)  # (short text, IN_LIST...)
    link_texts: set[str] = field(default_factory=set)
    pending_related: list[HtmlElement] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # rule name -> elements removed
    credits: set[str] = field(default_factory=set)  # rights notices kept as the story's own
    judged: dict[str, str | None] = field(default_factory=dict)  # wrappers repeat their text
    body_start: int | None = None  # index into blocks where the first long paragraph was seen


def remove_element(element: HtmlElement) -> None:
    """Drop an element but keep its tail text, which belongs to the parent."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def link_density(element: HtmlElement, text_length: int) -> float:
    if text_length == 0:
        return 0.0
    linked = sum(len(squash(a.text_content())) for a in element.iter("a"))
    return linked / text_length


def _is_comment_section(element: HtmlElement) -> bool:
    element_id = (element.get("id") or "").lower()
    classes = set((element.get("class") or "").lower().split())
    if element_id not in _COMMENT_IDS and not classes & _COMMENT_CLASSES:
        return False
    # Never take the article with it on themes that wrap everything in one container.
    return next(element.iter("h1", "article"), None) is None


_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
MIN_TEASERS = 3
MAX_TEASER_CHARS = 800


def _is_teaser(item: HtmlElement) -> bool:
    """A card: a heading that links to another page (a summary may follow)."""
    for heading in item.iter(*_HEADINGS):
        if heading.tag in _HEADINGS and (
            heading.find(".//a") is not None
            or any(a is not None for a in heading.iterancestors("a"))
        ):
            return True
    return False


def _is_teaser_list(element: HtmlElement) -> bool:
    """ "More stories" streams: a list of at least three cards, each a linked heading.

    A statement's own lists are sentences, never headings that link elsewhere.
    """
    if len(element) < MIN_TEASERS:
        return False
    items = [child for child in element if child.tag in ("li", "div", "article", "section")]
    if len(items) < MIN_TEASERS or len(items) < 0.8 * len(element):
        return False
    if next(element.iter("h1"), None) is not None:
        return False
    # A card is a title and a line or two of summary, never a section of an article.
    if any(len(squash(item.text_content())) > MAX_TEASER_CHARS for item in items):
        return False
    teasers = sum(1 for item in items if _is_teaser(item))
    return teasers >= MIN_TEASERS and teasers >= 0.8 * len(items)


_SECTION_TAGS = ("form", "div", "section", "ol", "ul", "aside", "article")
_AD_LABEL = re.compile(r"(?i)^(?:广告|推广|赞助|advertisement|sponsored|anzeige|publicité)$")
MAX_AD_CHARS = 150


def _is_advert(element: HtmlElement) -> bool:
    """An ad placed among the paragraphs: `<a><i>广告</i><span>ad copy</span></a>`.

    Only a short block that opens with the label in an element of its own: a sentence
    that begins with the word 广告 is text.
    """
    if not len(element) or (element.text or "").strip():
        return False
    label = element[0]
    if (
        not isinstance(label.tag, str)
        or len(label)
        or not _AD_LABEL.match((label.text or "").strip())
    ):
        return False
    return len(squash(element.text_content())) <= MAX_AD_CHARS


def _is_layout_table(table: HtmlElement) -> bool:
    """Tables used for page layout (old CMS templates), as opposed to tables of data."""
    if (table.get("role") or "").lower() in ("presentation", "none"):
        return True
    nested = any(True for _ in table.iterdescendants("table"))
    if nested:
        return True
    if table.find(".//caption") is not None or table.find(".//th") is not None:
        return False
    blocks = table.iterdescendants("div", "h1", "h2", "h3", "ul", "ol", "form", "iframe")
    if next(blocks, None) is not None:
        return True
    rows = table.findall(".//tr")
    if all(len(row.findall("td")) <= 1 for row in rows):
        return True
    text = squash(table.text_content())
    return link_density(table, len(text)) > 0.6


def unwrap_layout_tables(root: HtmlElement) -> None:
    """Turn layout tables into divs so their cells are judged as blocks, not table rows."""
    layout = [table for table in root.iter("table") if _is_layout_table(table)]
    for table in layout:
        for element in table.iter("table", "tbody", "thead", "tfoot", "tr", "td", "th"):
            if element is table or element.tag != "table":
                element.tag = "div"


# Drawings and style sheets: never text, and every rule and both of trafilatura's passes
# would walk them (an icon's SVG is dozens of elements; one page here had thousands).
_NEVER_TEXT = ("svg", "style")


def drop_never_text(root: HtmlElement) -> None:
    """Remove the elements that can hold no statement text, before anything reads the tree."""
    for element in list(root.iter(*_NEVER_TEXT)):
        remove_element(element)


def prune(root: HtmlElement) -> TreeNotes:
    """Remove boilerplate elements from the tree in place; note what was seen."""
    notes = TreeNotes()
    for element in list(root.iter(*_SECTION_TAGS, "a", "li", "p")):
        if element.getparent() is None:
            continue
        if _is_advert(element):
            _count(notes, "advert")
            remove_element(element)
        elif element.tag not in _SECTION_TAGS:
            continue
        elif _is_comment_section(element):
            _count(notes, "comments")
            remove_element(element)
        elif element.tag == "form" and element.find(".//textarea") is not None:
            _count(notes, "comment_form")
            remove_element(element)
        elif element.tag in ("ul", "ol", "div", "section") and _is_teaser_list(element):
            _count(notes, "related")
            remove_element(element)
    body = root.find("body")
    _visit(body if body is not None else root, notes, context="")
    for label in notes.pending_related:
        # No enclosing link list claimed it: drop the bare heading on its own.
        if label.getroottree().getroot() is root:
            _count(notes, "related")
            remove_element(label)
    return notes


def _count(notes: TreeNotes, rule: str) -> None:
    notes.removed[rule] = notes.removed.get(rule, 0) + 1


# Blocks longer than this (squashed) are never judged, and neither are their ancestors.
MAX_BLOCK_CHARS = 3000


def _visit(element: HtmlElement, notes: TreeNotes, context: str) -> str | None:
    """Post-order walk: judge each block by its own text after its children were judged.

    Returns the element's raw text, or None once it is longer than any rule looks at: its
    ancestors are too, so their text is never joined and squashed again (on long pages
    that was most of this pass's time).
    """
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in _SKIP_TEXT:
        return ""
    if tag == "a":
        context = IN_LINK
    elif tag in _LIST_TAGS and context != IN_LINK:
        context = IN_LIST
    parts = [element.text or ""]
    long = False
    for child in list(element):
        child_text = _visit(child, notes, context)
        if child_text is None:
            long = True
        elif not long and child.getparent() is element:
            parts.append(child_text)
        if not long:
            parts.append(child.tail or "")
    text = "" if long else "".join(parts)
    squashed = squash(text)
    if long or len(squashed) > MAX_BLOCK_CHARS:
        if notes.body_start is None and tag and tag not in _INLINE:
            notes.body_start = len(notes.blocks)
        return None
    if tag in _INLINE or not tag:
        if tag == "a":
            if 2 <= len(squashed) <= 80:
                notes.link_texts.add(squashed)
        elif 6 <= len(squashed) <= 40 and any(char.isdigit() for char in squashed):
            # <span class="pubTime">2016年10月14日07:17</span>: dates often sit in inline tags.
            notes.blocks.append((squashed, context))
        return text

    if notes.body_start is None and len(squashed) >= BODY_PARAGRAPH_CHARS:
        notes.body_start = len(notes.blocks)
    if not squashed:
        return text
    if len(squashed) <= 300 and (not notes.blocks or notes.blocks[-1][0] != squashed):
        notes.blocks.append((squashed, context))
    if tag in _NEVER_REMOVE:
        return text

    if squashed in notes.judged:
        rule = notes.judged[squashed]
    else:
        rule = notes.judged[squashed] = classify(squashed)
    if rule == "related":
        # A "Related" heading takes the link list that follows it along; without one, an
        # enclosing block that starts with it and is mostly links goes instead (see below).
        following = element.getnext()
        if following is None or following.tag not in ("ul", "ol", "dl", "div", "table"):
            notes.pending_related.append(element)
            return text
        following_text = squash(following.text_content())
        if link_density(following, len(following_text)) <= 0.5:
            notes.pending_related.append(element)
            return text
        remove_element(following)
    elif (
        rule is None
        and _RELATED_START.match(squashed)
        and link_density(element, len(squashed)) > 0.5
    ):
        rule = "related"
    elif rule == "footer" and _is_story_credit(element, squashed):
        notes.credits.add(squashed)
        rule = None
    if rule is None:
        return text
    _count(notes, rule)
    remove_element(element)
    return ""


def next_to_body_text(element: HtmlElement) -> bool:
    """Whether a sibling of `element` is a paragraph of statement text."""
    parent = element.getparent()
    if parent is None:
        return False
    return any(
        sibling.tag == "p" and len(squash(sibling.text_content())) >= BODY_PARAGRAPH_CHARS
        for sibling in parent
        if sibling is not element
    )


def _is_story_credit(element: HtmlElement, squashed: str) -> bool:
    """A rights notice that is a paragraph of the story itself (see `_REUSE_TERMS`)."""
    return (
        element.tag == "p"
        and _REUSE_TERMS.search(squashed) is not None
        and next_to_body_text(element)
    )


# --- extracted lines ------------------------------------------------------------------


def _comparable(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def clean_lines(
    lines: Iterable[str],
    titles: Iterable[str | None] = (),
    link_texts: set[str] | frozenset[str] = frozenset(),
    credits: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Drop boilerplate lines from extracted text, and lines that only repeat the title.

    `credits` are rights notices the tree pass found inside the story: kept.
    """
    kept: list[str] = []
    skipping_related = False
    for raw in lines:
        line = squash(raw)
        if not line:
            continue
        # After a "Related" label: its list, as bullets or as lines that are each a link.
        if skipping_related and (
            line.startswith(("- ", "· ", "·", "• ", "|")) or line in link_texts
        ):
            continue
        skipping_related = False
        rule = classify(line)
        if rule == "related":
            skipping_related = True
            continue
        if rule is not None and not (rule == "footer" and line in credits):
            continue
        kept.append(line)

    kept = _drop_link_runs(kept, link_texts)
    kept = _drop_info_bars(kept)
    kept = _drop_closing_promos(kept)

    # The title is metadata: repeated as a line of the body (usually the first) it goes.
    wanted = {_comparable(title) for title in titles if title}
    wanted.discard("")
    return [line for line in kept if _comparable(line) not in wanted]


def _drop_link_runs(lines: list[str], link_texts: set[str] | frozenset[str]) -> list[str]:
    """Two or more short lines in a row that are each just a link's text are a menu.

    Longer link texts (article titles, "Here's our year in review!") can be a list the
    statement itself makes, so they stay.
    """
    if not link_texts:
        return lines

    def is_link(line: str) -> bool:
        bare = line.lstrip("-·•| ").rstrip("| ")
        return len(bare) <= 24 and not bare.endswith(_SENTENCE_END) and bare in link_texts

    flags = [is_link(line) for line in lines]
    kept = []
    for index, line in enumerate(lines):
        in_run = flags[index] and (
            (index > 0 and flags[index - 1]) or (index + 1 < len(flags) and flags[index + 1])
        )
        if not in_run:
            kept.append(line)
    return kept


def _drop_closing_promos(lines: list[str]) -> list[str]:
    """Promo lines closing a text: scan to follow, share this, follow us, subscribe (never
    inside it: a notice may tell readers to scan a code to use a service)."""
    end = len(lines)
    while end > 1 and len(lines[end - 1]) <= 200 and _CLOSING_PROMO.search(lines[end - 1]):
        end -= 1
    return lines[:end]


_LEADING_DATE = re.compile(
    r"^(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}[:：]\d{2}(?::\d{2})?)?\s*[|｜·]?\s*"
)


def is_head_info(line: str) -> bool:
    """A date line, an info bar, or both: `2012-09-26 11:09:00 | Source：People's Daily`."""
    if _DATE_LINE.match(line) or is_info_bar(line):
        return True
    rest = _LEADING_DATE.sub("", line, count=1)
    return rest != line and is_info_bar(rest.strip("()（）"))


def _drop_info_bars(lines: list[str]) -> list[str]:
    """Info bars above the body, and a bare source/editor line closing it.

    Only there: in the middle of a notice, "时间：8月1日上午9时" is the meeting's time.
    """
    start = 0
    # The body starts at the first long line or full sentence (Chinese sentences are short)
    # that is not itself an info bar (one with a long source name can be long).
    while start < len(lines) and (
        (len(lines[start]) < 50 and not lines[start].endswith(_SENTENCE_END))
        or is_head_info(lines[start])
    ):
        start += 1
    head = [line for line in lines[:start] if not is_head_info(line)]
    body = lines[start:]
    while (
        body
        and len(body[-1]) <= 60
        and _END_ATTRIBUTION.match(body[-1])
        and is_info_bar(body[-1].strip("()（）"))
    ):
        body = body[:-1]
    return head + body
