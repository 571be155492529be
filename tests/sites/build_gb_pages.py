"""Regenerate the fixture files that are not UTF-8 text: the GB18030 and GBK pages and the PDF."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

GOV = Path(__file__).resolve().parent / "gov"

# Characters in GBK (and GB18030) but not in GB2312: a strict gb2312 decoder fails on them.
GBK_ONLY = "镕喆堃昇"
# A character outside GBK: GB18030 encodes it in four bytes, so a plain "gbk" decoder fails too.
GB18030_FOUR_BYTE = "𠮷"


@dataclass(frozen=True)
class Article:
    """One Chinese statement page of the mfa-zh listing source."""

    name: str  # file name under content/202407/
    title: str
    date: str  # YYYY-MM-DD
    time: str  # HH:MM
    column: str
    body: str  # one paragraph per line

    @property
    def href(self) -> str:
        return f"../content/202407/{self.name}"

    @property
    def date_cn(self) -> str:
        y, m, d = self.date.split("-")
        return f"{y}年{m}月{d}日"


MFA_ZH: list[Article] = [
    Article(
        name="t20240725_11200031.html",
        title="外交部发言人宣布埃斯特马克王国外交大臣瓦尔加将访华",
        date="2024-07-25",
        time="09:30",
        column="发言人表态",
        body="""
应外交部长宋立伟邀请，埃斯特马克王国外交大臣伊尔泽·瓦尔加将于7月29日至31日对中国进行正式访问。
问：能否介绍瓦尔加外交大臣此访的安排？中方对此访有何期待？
答：今年是中国同埃斯特马克建交45周年。建交以来，两国始终相互尊重、平等相待，各领域交流合作不断深化，已成为彼此信赖的好朋友、好伙伴。埃斯特马克是北欧地区重要国家，在绿色能源、海洋运输、科技创新等领域具有独特优势。
访问期间，宋立伟外长将同瓦尔加外交大臣举行会谈，双方将全面回顾两国关系发展历程，就深化各领域务实合作、扩大人文交流、加强在联合国等多边机制中的沟通协调深入交换意见，并就共同关心的国际和地区问题交流看法。瓦尔加外交大臣还将出席中埃斯建交45周年招待会，并赴上海参观访问。
中方期待通过此访同埃方进一步巩固政治互信，推动海上风电、港口现代化、农产品贸易等领域合作取得更多成果，为中埃斯关系长期健康稳定发展注入新的动力。
问：近年来中埃斯两国在哪些领域合作较为突出？
答：中国是埃斯特马克在亚洲最大的贸易伙伴。去年双边贸易额同比增长百分之十二，埃斯特马克的乳制品、海产品和林产品深受中国消费者欢迎，中国企业参与建设的海上风电项目已经并网发电。两国在极地科考、航运减排、职业教育等领域的合作也不断拓展。中方对埃斯特马克公民实施单方面免签政策以来，来华旅游、经商和学习的埃斯特马克人员明显增多。
""",
    ),
    Article(
        name="t20240723_11200024.html",
        title="外交部发言人就第二届北河流域可持续发展部长级会议答记者问",
        date="2024-07-23",
        time="16:00",
        column="发言人表态",
        body="""
问：第二届北河流域可持续发展部长级会议日前在卡尔维拉共和国阿尔达纳港闭幕。中方如何评价会议成果？
答：本届部长级会议以“共享河流、共同发展”为主题，流域五国和有关国际组织代表围绕水资源合理利用、航运安全、生态保护和防灾减灾等议题进行了深入讨论，通过了《阿尔达纳港宣言》和未来三年行动计划。中方对会议取得的积极成果表示欢迎。
中方代表团在会上宣布了一系列务实举措，包括在汛期向流域国家共享主要水文站的实时数据，未来三年为流域国家培训五百名水利和航运管理人员，支持建设流域联合应急救援中心等。这些举措得到了与会各方的普遍欢迎。
北河是流域各国人民共同的母亲河。中方始终秉持共商共建共享理念，尊重和照顾下游国家的合理关切，愿同流域各国一道，落实好会议达成的各项共识，推动北河成为和平之河、友谊之河、繁荣之河。
问：有报道称，部分下游国家对上游水利工程表达关切。中方对此有何回应？
答：中方在北河上游开发水电项目，始终坚持开发与保护并重，充分考虑下游国家的利益和关切。有关项目均经过严格的科学论证和环境影响评估，不会对下游水量和生态造成不利影响。中方愿通过流域合作机制，同有关国家保持沟通，及时通报信息，妥善处理各方关切。我们也欢迎流域外国家和国际组织在尊重流域国家意愿的基础上，为流域可持续发展发挥建设性作用。
""",
    ),
    Article(
        name="t20240719_11200017.html",
        title="何镕副部长会见卡尔维拉共和国驻华大使阿尔梅达",
        date="2024-07-19",
        time="11:20",
        column="部领导活动",
        body="""
2024年7月19日，外交部副部长何镕在北京会见卡尔维拉共和国新任驻华大使费尔南多·阿尔梅达。
何镕对阿尔梅达大使来华履新表示欢迎，表示中国和卡尔维拉是相互信任的好朋友。近年来，两国政治互信持续增强，贸易、基础设施、清洁能源等领域合作成果丰硕，人文交流日益密切。中方高度重视发展中卡关系，愿同卡方一道，落实好两国领导人达成的重要共识，推动双边关系不断迈上新台阶。外交部将为阿尔梅达大使履职提供便利和支持。
何镕表示，中方赞赏卡方在涉及中方核心利益问题上给予的宝贵支持，愿继续同卡方加强在联合国、太平洋沿岸互联互通论坛等多边平台上的沟通协调，共同维护发展中国家的正当权益。
阿尔梅达表示，很荣幸出任驻华大使。卡方视中国为重要合作伙伴，感谢中方长期以来对卡经济社会发展给予的帮助。他将致力于推动两国在农业、矿业、旅游和教育等领域的合作，为深化卡中友谊作出积极贡献。
双方还就下阶段高层交往和共同关心的问题交换了意见。
阿尔梅达大使此前曾任卡尔维拉外交部亚洲司司长、驻东南亚国家大使等职，长期从事对华工作。
同日，何镕还会见了来访的卡尔维拉议会外事委员会代表团，双方就加强立法机构交流、推动地方合作等议题交换了看法。何镕表示，中方欢迎卡方各界人士来华参观考察，增进对中国发展道路和内外政策的了解。
""",
    ),
    Article(
        name="t20240716_11200009.html",
        title="外交部举办“数字海关与跨境贸易便利化”国际研讨会",
        date="2024-07-16",
        time="15:45",
        column="业务动态",
        body="""
7月16日，外交部在北京举办“数字海关与跨境贸易便利化”国际研讨会。来自二十余个国家的驻华使节、海关官员、专家学者和企业代表约一百五十人出席。
外交部国际经济司司长李喆在开幕致辞中表示，当前全球产业链供应链加速重构，数字技术正在深刻改变国际贸易的形态。各国海关加强数字化合作，推进单一窗口互联互通、电子证书互认和风险信息共享，有利于降低贸易成本、提升通关效率，让中小企业更好地参与国际分工。
李喆指出，中方愿同各方分享“智慧海关”建设经验，支持发展中国家提升数字海关能力，推动在世界海关组织等多边框架下形成更多合作共识。中方也欢迎各国企业利用跨境电商综合试验区等平台，扩大优质产品对华出口。
与会代表围绕数据跨境流动规则、电子提单、绿色通道建设等议题进行了交流。多国代表表示，期待同中方在人员培训、技术标准和试点项目等方面开展更多合作。
研讨会期间，外交部还组织与会代表参观了北京大兴国际机场综合保税区和跨境电商监管中心，实地了解“提前申报”“两步申报”等便利化措施的运行情况。代表们对中方在数字口岸建设方面取得的进展给予积极评价，认为相关经验对发展中国家具有重要借鉴意义。
李喆表示，外交部将继续搭建交流平台，推动各方在数字贸易领域凝聚共识、深化合作。
""",
    ),
    Article(
        name="t20240710_11200003.html",
        title="外交部召开2024年驻外使领馆领事保护工作视频会议",
        date="2024-07-10",
        time="10:00",
        column="领事工作",
        body="""
7月10日，外交部召开2024年驻外使领馆领事保护工作视频会议。外交部领事司副司长刘堃出席会议并讲话，一百余个驻外使领馆负责领事保护工作的同志参加。
刘堃表示，今年以来，中国公民出境人数快速增长，海外安全形势复杂多变，领事保护与协助任务繁重。各驻外使领馆要坚持以人民为中心，进一步健全预防性领事保护机制，及时发布安全提醒，加强与驻在国执法、应急等部门的沟通联系，全力维护海外中国公民和机构的安全与合法权益。
会议要求，各使领馆要针对暑期出行高峰和汛期自然灾害多发的特点，提前制定应急预案，开展应急演练，做好留学生、务工人员和游客等重点群体的安全教育；要加强12308热线与驻外使领馆之间的联动，确保求助来电及时转接、有效处置。
会上，驻卡尔维拉、驻埃斯特马克等使馆交流了近期处置突发事件的经验做法。
会议强调，领事保护工作事关人民群众切身利益。各使领馆要认真梳理本地区安全风险，定期更新安全提醒和应急联络信息，加强同侨团、中资企业和留学生组织的联系，建立健全应急联络网络。遇有重大突发事件，要第一时间启动应急机制，主动靠前服务，确保求助有人管、遇险有人救。
刘堃还对做好今年下半年重点工作作出部署，要求加强领事工作信息化建设，推动“中国领事”应用程序更多业务实现网上办理。
""",
    ),
    Article(
        name="t20240705_11200001.html",
        title="外交部举办2024年度公众开放日活动",
        date="2024-07-05",
        time="17:10",
        column="外交部新闻",
        body="""
7月5日，外交部举办2024年度第二次公众开放日活动。来自北京、天津、河北等地的大中学生、社区居民、企业职工以及在华留学生代表等一百二十余人走进外交部。
外交部新闻司参赞张昇向来宾介绍了新中国外交的光辉历程和当前外交工作重点，并回答了大家关心的问题。张昇表示，外交工作离不开人民群众的理解和支持。举办公众开放日，就是要打开大门，让公众近距离感受中国外交，了解外交为民的理念和实践。
来宾们参观了外交部新闻发布厅、签字厅和外交史料陈列室，观看了领事保护工作专题片，并在新闻发布厅体验了“模拟发言人”环节。来自日本的交换留学生𠮷田美咲说，第一次站在发言台上回答“记者”提问，才知道每一句话都需要认真斟酌，这是一次难忘的经历。
外交部自2003年起举办公众开放日活动，迄今已举办六十余次，累计接待公众一万多人次。
活动中，外交部有关司局负责人还与来宾进行了座谈，就人文交流、海外中国公民安全保护、公共外交等话题交流互动。来宾们纷纷表示，通过参观和交流，对中国外交有了更直观、更全面的认识，今后要做中国故事的讲述者和中外友好的传播者。
外交部有关负责人表示，今后将继续办好公众开放日，进一步丰富活动形式，让更多公众走近外交、理解外交、支持外交。
""",
    ),
]

DEAD_LINK = "../content/202407/t20240701_11200099.html"
DEAD_TITLE = "外交部发言人就有关问题答记者问"
PRIVATE_LINK = "/private/secret.html"
PRIVATE_TITLE = "内部通知（请勿外传）"

# Listing pages: file name -> article links in order (title, href).
LISTING: list[tuple[str, list[tuple[str, str]]]] = [
    ("index.html", [(a.title, a.href) for a in MFA_ZH[0:2]]),
    ("index_1.html", [*[(a.title, a.href) for a in MFA_ZH[2:4]], (PRIVATE_TITLE, PRIVATE_LINK)]),
    ("index_2.html", [*[(a.title, a.href) for a in MFA_ZH[4:6]], (DEAD_TITLE, DEAD_LINK)]),
]

LANG_SWITCH = (
    '<a href="/index.html#ko">한어</a><a href="/index.html#ru">Русский язык</a>'
    '<a href="/mfa-en/">English</a><a href="/index.html#fr">Français</a>'
    '<a href="/index.html#es">Español</a><a href="/index.html#ar">العربية</a>'
)

HEAD = """<!DOCTYPE html>
<html>
<head>
<meta charset="gb2312">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}_中华人民共和国外交部</title>
<meta name="SiteName" content="中华人民共和国外交部">
<meta name="SiteDomain" content="www.mfa.example">
<meta name="ColumnName" content="{column}">
{extra_meta}<link rel="stylesheet" href="/mfa-zh/images/common.css">
<script type="text/javascript" src="/mfa-zh/images/jquery.js"></script>
</head>
<body>
<div class="header">
  <div class="top"><span class="date">2024年7月 星期五</span><span class="lang">{lang_switch}</span></div>
  <div class="logo"><a href="/mfa-zh/list/"><img src="/mfa-zh/images/logo.png" alt="中华人民共和国外交部"></a></div>
  <div class="nav">
    <ul>
      <li><a href="/mfa-zh/list/">首页</a></li>
      <li><a href="/mfa-zh/list/#wjb">外交部</a></li>
      <li><a href="/mfa-zh/list/">外交动态</a></li>
      <li><a href="/mfa-zh/list/#wjzc">外交政策</a></li>
      <li><a href="/mfa-zh/list/#gjhdq">国家和组织</a></li>
      <li><a href="/mfa-zh/list/#lsfw">领事服务</a></li>
      <li><a href="/mfa-zh/list/#zl">资料</a></li>
    </ul>
  </div>
</div>
<div class="position">当前位置：<a href="/mfa-zh/list/">首页</a> &gt; <a href="/mfa-zh/list/">外交动态</a> &gt; <a href="/mfa-zh/list/">{column}</a></div>
"""

FOOTER = """<div class="footer">
  <p><a href="/mfa-zh/list/#wzdt">网站地图</a> | <a href="/mfa-zh/list/#lxwm">联系我们</a> | <a href="/mfa-zh/list/#yqlj">友情链接</a></p>
  <p>版权所有：中华人民共和国外交部 &nbsp; 地址：北京市朝阳区朝阳门南大街2号 &nbsp; 邮编：100701</p>
  <p>京ICP备05070218号-1 &nbsp; 京公网安备11010502032470号 &nbsp; 网站标识码bm03000001</p>
</div>
</body>
</html>
"""

ARTICLE = """<div class="container">
  <div class="news-details">
    <div class="news-title"><h1>{title}</h1></div>
    <div class="news-info">
      <p class="time"><span>发布时间：{date_cn}</span>&nbsp;&nbsp;<span>来源：外交部</span></p>
      <p class="tools">【字体：<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】【<a href="javascript:window.print()">打印</a>】【<a href="javascript:window.close()">关闭窗口</a>】</p>
    </div>
    <div id="News_Body_Txt_A" class="news-main">
{body}
    </div>
    <div class="share">分享到：<a href="javascript:;">微信</a> <a href="javascript:;">微博</a> <a href="javascript:;">QQ空间</a></div>
    <div class="news-page">
{prevnext}
    </div>
    <div class="related">
      <h3>相关新闻</h3>
      <ul>
{related}
      </ul>
    </div>
  </div>
</div>
"""

LIST_BODY = """<div class="container">
  <div class="list-title"><h2>发言人表态</h2></div>
  <div class="list1">
    <ul class="list">
{items}
    </ul>
  </div>
  <div class="page">
{pager}
  </div>
  <div class="hot">
    <h3>热点专题</h3>
    <ul>
      <li><a href="/mfa-en/">English</a></li>
      <li><a href="/mss/">国家安全部</a></li>
    </ul>
  </div>
</div>
"""

CAC_GBK_BODY = """
问：《移动互联网应用程序信息服务备案管理办法》出台的背景是什么？
答：近年来，我国移动互联网应用程序数量快速增长，在便利群众生活、推动经济社会发展的同时，也出现了一些应用程序主体信息不清、违规收集使用个人信息、传播违法和不良信息等问题。实行备案管理，有利于摸清底数、压实主体责任，推动应用程序规范有序发展，更好保护广大用户的合法权益。
问：哪些应用程序需要履行备案手续？
答：在中华人民共和国境内从事互联网信息服务的移动互联网应用程序主办者，应当依法履行备案手续。应用程序分发平台、智能终端生产企业在上架、预置应用程序时，应当核验其备案信息，对未履行备案手续的，不得为其提供相关服务。
问：备案工作如何开展？
答：应用程序主办者可以通过其网络接入服务提供者或者应用程序分发平台，向所在地省级通信管理部门履行备案手续。备案事项发生变更的，应当在规定时限内办理变更手续。相关部门将为存量应用程序设置合理的过渡期，并通过线上办理、一次告知等方式提高办理效率，尽量减少企业负担。
问：对违反办法规定的行为如何处理？
答：对未履行备案手续、提供虚假备案信息等违法违规行为，有关主管部门将依据《中华人民共和国网络安全法》等法律法规予以处理。我们也欢迎社会各界对备案工作进行监督，发现问题可以通过12377违法和不良信息举报中心进行反映。
"""

CAC_GBK_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}_中央网络安全和信息化委员会办公室</title>
<meta name="keywords" content="网信办,答记者问,备案">
<meta name="publishdate" content="2024-08-05 09:00:00">
<link href="/cac/static/css/common.css" rel="stylesheet" type="text/css">
</head>
<body>
<div class="top-bar"><span>中华人民共和国国家互联网信息办公室</span><span class="lang"><a href="/cac/">简体中文</a><a href="/index.html#ru">Русский язык</a><a href="/index.html#en">English</a><a href="/index.html#ja">日本語</a></span></div>
<div class="nav">
  <a href="/cac/">首页</a><a href="/cac/#ldhd">领导活动</a><a href="/cac/#qwfb">权威发布</a><a href="/cac/#zcfg">政策法规</a><a href="/cac/#tzgg">通知公告</a><a href="/cac/#jbzx">举报中心</a>
</div>
<div class="main">
  <div class="local">当前位置：<a href="/cac/">首页</a> &gt; <a href="/cac/#qwfb">权威发布</a> &gt; <a href="/cac/#zcjd">政策解读</a></div>
  <div class="title" id="title">{title}</div>
  <div class="info">
    <span id="pubtime">2024年08月05日 09:00</span>
    <span id="source">来源：中国网信网</span>
    <span class="font">【字体：<a href="javascript:;">大</a> <a href="javascript:;">中</a> <a href="javascript:;">小</a>】</span>
    <span>【<a href="javascript:window.print();">打印</a>】</span><span>【<a href="javascript:window.close();">关闭窗口</a>】</span>
  </div>
  <div class="main-content" id="BodyLabel">
    <p>近日，国家互联网信息办公室、工业和信息化部等部门联合印发《移动互联网应用程序信息服务备案管理办法》。国家互联网信息办公室有关负责人就办法有关问题回答了记者提问。</p>
{body}
  </div>
  <div class="share">分享到：<a href="javascript:;">微信</a><a href="javascript:;">微博</a></div>
  <div class="editor">【责任编辑：王一鸣】</div>
  <div class="related"><h3>相关阅读</h3>
    <ul>
      <li><a href="/cac/2024-07/30/c_1723905478218641.htm">关于公开征求《网络数据标注安全管理规定（征求意见稿）》意见的通知</a></li>
      <li><a href="/cac/files/notice.pdf">附件：移动互联网应用程序备案说明（PDF）</a></li>
    </ul>
  </div>
</div>
<div class="footer">
  <p>主办单位：中共中央网络安全和信息化委员会办公室 &nbsp; 中华人民共和国国家互联网信息办公室 &nbsp; 版权所有</p>
  <p>京ICP备14042428号 &nbsp; 京公网安备11010202008911号 &nbsp; 违法和不良信息举报电话：12377</p>
</div>
</body>
</html>
"""

CAC_GBK_TITLE = "国家互联网信息办公室有关负责人就《移动互联网应用程序信息服务备案管理办法》答记者问"
CAC_GBK_PATH = "cac/2024-08/05/c_1724516284771035.htm"

PDF_LINES = [
    "Cyberspace Administration - Notice (attachment)",
    "Explanatory Note on the Filing of Mobile Internet Application Information Services",
    "Published: 2024-08-06",
    "1. Operators of mobile applications providing information services shall complete",
    "   the filing procedure with the provincial communications administration.",
    "2. Application stores and device makers shall verify the filing before listing",
    "   or pre-installing an application.",
    "3. Existing applications have a transition period until the end of March 2025.",
]


def paragraphs(text: str, indent: str) -> str:
    """Wrap each non-empty line of text in <p>, escaped."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(f"{indent}<p>{html.escape(line, quote=False)}</p>" for line in lines)


def article_page(index: int) -> str:
    a = MFA_ZH[index]
    extra = (
        f'<meta name="ArticleTitle" content="{html.escape(a.title)}">\n'
        f'<meta name="PubDate" content="{a.date} {a.time}">\n'
        '<meta name="ContentSource" content="外交部">\n'
        f'<meta name="Keywords" content="{html.escape(a.column)}">\n'
    )
    links = []
    if index > 0:
        prev = MFA_ZH[index - 1]
        links.append(f'      <p>上一篇：<a href="./{prev.name}">{html.escape(prev.title)}</a></p>')
    if index < len(MFA_ZH) - 1:
        nxt = MFA_ZH[index + 1]
        links.append(f'      <p>下一篇：<a href="./{nxt.name}">{html.escape(nxt.title)}</a></p>')
    related = "\n".join(
        f'        <li><a href="./{o.name}">{html.escape(o.title)}</a></li>'
        for o in MFA_ZH
        if o is not a
    )
    head = HEAD.format(
        title=html.escape(a.title), column=a.column, extra_meta=extra, lang_switch=LANG_SWITCH
    )
    body = ARTICLE.format(
        title=html.escape(a.title),
        date_cn=a.date_cn,
        body=paragraphs(a.body, "      "),
        prevnext="\n".join(links),
        related=related,
    )
    return head + body + FOOTER


def listing_page(index: int) -> str:
    _, items = LISTING[index]
    dates = {a.href: a.date for a in MFA_ZH}
    lis = "\n".join(
        f'      <li><a href="{href}" target="_blank">{html.escape(title)}</a>'
        f"<span>{dates.get(href, '2024-07-01')}</span></li>"
        for title, href in items
    )
    pager = []
    if index > 0:
        pager.append(f'    <a class="prev" href="{LISTING[index - 1][0]}">上一页</a>')
    for i, (page_name, _) in enumerate(LISTING):
        if i == index:
            pager.append(f'    <span class="current">{i + 1}</span>')
        else:
            pager.append(f'    <a href="{page_name}">{i + 1}</a>')
    if index < len(LISTING) - 1:
        pager.append(f'    <a class="next" href="{LISTING[index + 1][0]}">下一页</a>')
    else:
        pager.append('    <span class="next disabled">下一页</span>')
    pager.append(f"    <span>共{len(LISTING)}页</span>")
    head = HEAD.format(
        title="发言人表态", column="发言人表态", extra_meta="", lang_switch=LANG_SWITCH
    )
    return head + LIST_BODY.format(items=lis, pager="\n".join(pager)) + FOOTER


def build_pdf(lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF 1.4 with Helvetica text and a correct xref table."""

    def pdf_string(s: str) -> str:
        return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    ops = ["BT", "/F1 16 Tf", "72 770 Td", f"{pdf_string(lines[0])} Tj", "/F1 11 Tf", "0 -28 Td"]
    for line in lines[1:]:
        ops += [f"{pdf_string(line)} Tj", "0 -18 Td"]
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (Explanatory Note on the Filing of Mobile Internet Application Information"
        b" Services) /Author (Cyberspace Administration) /CreationDate (D:20240806090000+08'00') >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def write(relative: str, data: bytes) -> None:
    path = GOV / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {path.relative_to(GOV.parent)} ({len(data)} bytes)")


def main() -> None:
    """Write the mfa-zh pages (GB18030), the undeclared GBK CAC page and the PDF."""
    all_text = "".join(a.body for a in MFA_ZH)
    missing = [c for c in GBK_ONLY + GB18030_FOUR_BYTE if c not in all_text]
    if missing:
        raise SystemExit(f"fixture text lost its special characters: {missing}")
    for i, a in enumerate(MFA_ZH):
        write(f"mfa-zh/content/202407/{a.name}", article_page(i).encode("gb18030"))
    for i, (name, _) in enumerate(LISTING):
        write(f"mfa-zh/list/{name}", listing_page(i).encode("gb18030"))
    cac = CAC_GBK_PAGE.format(
        title=html.escape(CAC_GBK_TITLE), body=paragraphs(CAC_GBK_BODY, "    ")
    )
    if "charset" in cac.lower() or "encoding" in cac.lower():
        raise SystemExit("the CAC GBK page must not declare its encoding")
    write(CAC_GBK_PATH, cac.encode("gbk"))
    write("cac/files/notice.pdf", build_pdf(PDF_LINES))


if __name__ == "__main__":
    main()
