"""User-visible text in Chinese (primary) and English, and the choice between them.

Templates receive ``t = translator(lang)``; the browser receives the whole
dictionary of its language in ``client_config["i18n"]`` and translates with
the same keys. Messages may hold ``{name}`` placeholders, filled by keyword
arguments (``t("expert.greeting", name=...)``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        # The whole application
        "app.name": "警滴",
        "app.tagline": "群众一键报警，附近民警就近抢单出警",
        "app.skip_to_content": "跳到正文",
        "lang.label": "语言",
        "lang.zh": "中文",
        "lang.en": "English",
        "nav.home": "首页",
        "auth.logout": "退出登录",
        "auth.signed_in_as": "当前用户：{name}",
        "common.loading": "正在加载…",
        "common.empty": "暂无数据",
        "emergency.call_110": "紧急情况请拨打110",
        "net.offline": "网络已断开，恢复后将自动重连。",
        "sw.update_available": "新版本已就绪。",
        "sw.reload": "立即刷新",
        "map.label": "地图",
        # Landing page
        "index.title": "请选择入口",
        "index.open": "进入",
        "index.citizen.title": "群众报警",
        "index.citizen.desc": (
            "非紧急警情一键报警，附近民警抢单出警，实时查看民警位置。"
        ),
        "index.officer.title": "民警工作台",
        "index.officer.desc": "接收附近警情、抢单、导航到现场，查看任务和集结通知。",
        "index.command.title": "指挥室",
        "index.command.desc": "实时地图掌握警情与警力，处理无人接单的警情并人工派警。",
        "index.expert.title": "专家会诊",
        "index.expert.desc": "受邀进入会诊室，查看现场图文音视频并在线提供意见。",
        "index.admin.title": "机构管理",
        "index.admin.desc": "管理民警账号、派出所及其辖区和本机构的设置。",
        # Citizen
        "citizen.title": "一键报警",
        "citizen.notice": (
            "本平台受理非紧急警情。遇到危及人身安全的紧急情况，请立即拨打110。"
        ),
        "citizen.terms.title": "使用须知",
        "citizen.terms.version": "版本：{version}",
        "citizen.terms.phone": "手机号（选填，便于民警联系您）",
        "citizen.terms.agree": "我已阅读并同意",
        "citizen.terms.saving": "正在提交…",
        "citizen.map.title": "您的位置",
        "citizen.alarm.title": "报警信息",
        "citizen.alarm.placeholder": (
            "报警表单即将开放：选择警情类别、确认位置、补充文字和照片后一键报警。"
        ),
        # Geolocation
        "geo.locating": "正在获取您的位置…",
        "geo.located": "已定位，精度约 {meters} 米。",
        "geo.unsupported": "此浏览器无法获取定位。",
        "geo.insecure": "当前连接不安全，浏览器不允许获取定位。",
        "geo.denied": "未获得定位权限。可在浏览器设置中允许本网站获取位置。",
        "geo.unavailable": "暂时无法获取位置，请到开阔处再试。",
        "geo.timeout": "获取位置超时，正在重试…",
        "geo.you": "您在这里",
        # Officer
        "officer.title": "民警工作台",
        "officer.duty.title": "执勤状态",
        "officer.position.title": "我的位置",
        "officer.offers.title": "附近警情",
        "officer.offers.empty": "暂无待抢警情。",
        "duty.on": "在岗",
        "duty.busy": "忙碌",
        "duty.off": "离岗",
        # Realtime connection
        "rt.connected": "实时连接正常",
        "rt.reconnecting": "正在重新连接…",
        "rt.offline": "实时连接已断开",
        "rt.unsupported": "此浏览器不支持实时推送，请手动刷新页面。",
        # Command room
        "command.title": "指挥室",
        "command.legend": "图例",
        "command.officers.title": "警力",
        "command.officers.count": "共 {count} 名民警",
        "command.position.age": "{age}前更新位置",
        "command.position.none": "暂无位置",
        "command.position.stale": "位置已过时",
        "time.seconds": "{n}秒",
        "time.minutes": "{n}分钟",
        "time.hours": "{n}小时",
        # Expert
        "expert.title": "专家工作台",
        "expert.greeting": "您好，{name}",
        "expert.rooms.title": "会诊邀请",
        "expert.rooms.empty": "暂无会诊邀请。",
        "expert.profile.title": "专家资料",
        "expert.profile.placeholder": "专业领域、资质和联系方式的维护功能即将开放。",
        # Agency admin
        "admin.title": "机构管理",
        "admin.stations.title": "派出所",
        "admin.users.title": "账号",
        "admin.col.name": "名称",
        "admin.col.address": "地址",
        "admin.col.phone": "电话",
        "admin.col.username": "用户名",
        "admin.col.person": "姓名",
        "admin.col.roles": "角色",
        "admin.col.station": "所属派出所",
        "admin.col.status": "状态",
        "admin.col.actions": "操作",
        "admin.user.active": "正常",
        "admin.user.disabled": "已停用",
        "admin.user.disable": "停用",
        "admin.user.disable_confirm": (
            "确定停用 {name} 的账号吗？停用后该账号将无法登录。"
        ),
        "role.officer": "民警",
        "role.commander": "指挥员",
        "role.expert": "专家",
        "role.admin": "机构管理员",
        "role.platform_admin": "平台管理员",
        "role.citizen": "群众",
        # Sign-in
        "login.title": "工作人员登录",
        "login.username": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.working": "正在登录…",
        # Errors
        "error.title": "出错了",
        "error.status": "错误代码 {status}",
        "error.back_home": "返回首页",
        "error.generic": "操作失败，请稍后重试。",
        "error.network": "网络连接失败，请检查网络后重试。",
        "error.invalid_credentials": "用户名或密码错误。",
        "error.unauthenticated": "登录已失效，请重新登录。",
        "error.forbidden": "您的账号无权访问此页面。",
        "error.not_found": "找不到这个页面。",
        "error.role": "您的账号无权进行此操作。",
        "error.xsrf": "页面已过期，请刷新后重试。",
    },
    "en": {
        # The whole application
        "app.name": "Jingdi",
        "app.tagline": "One tap to alert the police; the nearest officer takes it",
        "app.skip_to_content": "Skip to content",
        "lang.label": "Language",
        "lang.zh": "中文",
        "lang.en": "English",
        "nav.home": "Home",
        "auth.logout": "Sign out",
        "auth.signed_in_as": "Signed in as {name}",
        "common.loading": "Loading…",
        "common.empty": "Nothing here yet",
        "emergency.call_110": "In an emergency, call 110",
        "net.offline": "You are offline; the app reconnects when the network is back.",
        "sw.update_available": "A new version is ready.",
        "sw.reload": "Reload now",
        "map.label": "Map",
        # Landing page
        "index.title": "Choose where to go",
        "index.open": "Open",
        "index.citizen.title": "Report to the police",
        "index.citizen.desc": (
            "Raise a non-emergency alarm in one tap; a nearby officer "
            "takes it and you see them coming on the map."
        ),
        "index.officer.title": "Officer desk",
        "index.officer.desc": (
            "Grab nearby alarms, navigate to the scene, see your tasks "
            "and muster alerts."
        ),
        "index.command.title": "Command room",
        "index.command.desc": (
            "A live map of alarms and officers; dispatch what nobody claimed."
        ),
        "index.expert.title": "Expert consultation",
        "index.expert.desc": (
            "Join consultation rooms, review photos, audio and video "
            "from the scene, and advise online."
        ),
        "index.admin.title": "Agency admin",
        "index.admin.desc": (
            "Manage officer accounts, police stations, their zones and "
            "the agency's settings."
        ),
        # Citizen
        "citizen.title": "One-tap alarm",
        "citizen.notice": (
            "This service handles non-emergency matters. If anyone is in "
            "danger, call 110 now."
        ),
        "citizen.terms.title": "Terms of use",
        "citizen.terms.version": "Version: {version}",
        "citizen.terms.phone": "Mobile number (optional, so the officer can call you)",
        "citizen.terms.agree": "I have read and agree",
        "citizen.terms.saving": "Submitting…",
        "citizen.map.title": "Your location",
        "citizen.alarm.title": "Your report",
        "citizen.alarm.placeholder": (
            "The report form opens soon: pick a category, "
            "confirm the location, add text and photos, and send it in one tap."
        ),
        # Geolocation
        "geo.locating": "Finding your location…",
        "geo.located": "Located to within about {meters} m.",
        "geo.unsupported": "This browser cannot share your location.",
        "geo.insecure": (
            "The connection is not secure, so the browser will not share your location."
        ),
        "geo.denied": (
            "Location permission was denied. You can allow it in the "
            "browser's site settings."
        ),
        "geo.unavailable": (
            "Your location is unavailable right now; try again in the open."
        ),
        "geo.timeout": "Finding your location took too long; trying again…",
        "geo.you": "You are here",
        # Officer
        "officer.title": "Officer desk",
        "officer.duty.title": "Duty status",
        "officer.position.title": "My position",
        "officer.offers.title": "Nearby alarms",
        "officer.offers.empty": "No open alarms nearby.",
        "duty.on": "On duty",
        "duty.busy": "Busy",
        "duty.off": "Off duty",
        # Realtime connection
        "rt.connected": "Live",
        "rt.reconnecting": "Reconnecting…",
        "rt.offline": "Live updates disconnected",
        "rt.unsupported": (
            "This browser cannot receive live updates; reload the page to refresh."
        ),
        # Command room
        "command.title": "Command room",
        "command.legend": "Legend",
        "command.officers.title": "Officers",
        "command.officers.count": "{count} officers",
        "command.position.age": "Position from {age} ago",
        "command.position.none": "No position",
        "command.position.stale": "Position is out of date",
        "time.seconds": "{n} s",
        "time.minutes": "{n} min",
        "time.hours": "{n} h",
        # Expert
        "expert.title": "Expert desk",
        "expert.greeting": "Hello, {name}",
        "expert.rooms.title": "Consultation invitations",
        "expert.rooms.empty": "No invitations yet.",
        "expert.profile.title": "Expert profile",
        "expert.profile.placeholder": (
            "Editing your specialties, credentials and contact details opens soon."
        ),
        # Agency admin
        "admin.title": "Agency admin",
        "admin.stations.title": "Police stations",
        "admin.users.title": "Accounts",
        "admin.col.name": "Name",
        "admin.col.address": "Address",
        "admin.col.phone": "Phone",
        "admin.col.username": "Username",
        "admin.col.person": "Name",
        "admin.col.roles": "Roles",
        "admin.col.station": "Station",
        "admin.col.status": "Status",
        "admin.col.actions": "Actions",
        "admin.user.active": "Active",
        "admin.user.disabled": "Disabled",
        "admin.user.disable": "Disable",
        "admin.user.disable_confirm": (
            "Disable the account of {name}? They will no longer be able to sign in."
        ),
        "role.officer": "Officer",
        "role.commander": "Commander",
        "role.expert": "Expert",
        "role.admin": "Agency admin",
        "role.platform_admin": "Platform admin",
        "role.citizen": "Citizen",
        # Sign-in
        "login.title": "Staff sign-in",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.working": "Signing in…",
        # Errors
        "error.title": "Something went wrong",
        "error.status": "Error code {status}",
        "error.back_home": "Back to the home page",
        "error.generic": "That did not work; please try again later.",
        "error.network": (
            "The network is unreachable; check your connection and try again."
        ),
        "error.invalid_credentials": "Wrong username or password.",
        "error.unauthenticated": "Your session has ended; please sign in again.",
        "error.forbidden": "Your account may not open this page.",
        "error.not_found": "This page does not exist.",
        "error.role": "Your account may not do this.",
        "error.xsrf": "This page has expired; reload it and try again.",
    },
}


def _normalize(tag: str | None) -> str | None:
    """The supported language a tag such as ``zh-CN`` or ``EN`` names, if any."""
    if not tag:
        return None
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else None


def _accept_language_order(header: str) -> list[str]:
    """The tags of an Accept-Language header, most preferred first (q=0 dropped)."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            # The position breaks ties, keeping the header's own order.
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def pick_language(
    query_lang: str | None, cookie_lang: str | None, accept_language: str | None
) -> str:
    """The page language: the query wins, then the cookie, then the browser's wish."""
    for explicit in (query_lang, cookie_lang):
        chosen = _normalize(explicit)
        if chosen:
            return chosen
    for tag in _accept_language_order(accept_language or ""):
        chosen = _normalize(tag)
        if chosen:
            return chosen
    return DEFAULT_LANGUAGE


@functools.cache
def _warn_missing(lang: str, key: str) -> None:
    # Cached so that a missing key on a busy page is logged once, not per request;
    # `_warn_missing.cache_clear()` resets it in tests.
    log.warning("no %s message for key %r", lang, key)


def translator(lang: str) -> Callable[..., str]:
    """A function translating keys into ``lang`` (the default for unknown languages)."""
    if lang not in MESSAGES:
        lang = DEFAULT_LANGUAGE
    messages = MESSAGES[lang]

    def translate(key: str, **params: object) -> str:
        text = messages.get(key)
        if text is None:
            _warn_missing(lang, key)
            return key
        return text.format(**params) if params else text

    return translate
