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
        # ---- Command room: alarm queue, dispatch; assessment board (kpi) ----
        "command.officers.count_on": "共 {count} 名民警，{on} 名在岗",
        "command.queue.title": "警情队列",
        "command.queue.escalated": "待派警",
        "command.queue.active": "处置中",
        "command.queue.none_waiting": "没有等待派警的警情。",
        "command.queue.none_active": "没有其他进行中的警情。",
        "command.queue.suggested": "建议派出所：{station}",
        "command.queue.no_station": "不在任何派出所辖区内",
        "command.queue.assignee": "处置民警：{name}",
        "command.queue.offered": "已推送给 {count} 名民警",
        "command.queue.age": "{age}前报警",
        "command.queue.waiting": "已等待{age}",
        "command.alarm.no_address": "（未填地址）",
        "command.status.offering": "抢单中",
        "command.status.escalated": "待派警",
        "command.status.assigned": "已分配",
        "command.status.en_route": "出警途中",
        "command.status.arrived": "已到场",
        "command.status.resolved": "已办结",
        "command.status.cancelled": "已撤销",
        "command.status.closed": "已结案",
        "command.legend.urgent": "超时（闪烁）",
        "command.category.taxi_dispute": "出租车纠纷",
        "command.category.missing_person": "走失寻人",
        "command.category.animal_nuisance": "动物扰民",
        "command.category.lost_item": "失物招领",
        "command.category.neighbour_dispute": "邻里纠纷",
        "command.category.noise": "噪音扰民",
        "command.source.gps": "手机定位",
        "command.source.pin": "地图选点",
        "command.source.plate": "门牌二维码",
        "command.actor.system": "系统",
        "command.actor.citizen": "报警群众",
        "command.actor.staff": "工作人员",
        "command.via.claim": "抢单",
        "command.via.dispatch": "指挥派警",
        "command.distance.unknown": "位置未知",
        "command.distance.m": "{n} 米",
        "command.distance.km": "{n} 公里",
        "command.detail.dismiss": "收起",
        "command.detail.ended": "该警情{status}，已不在队列中。",
        "command.detail.no_description": "报警人未填写文字描述。",
        "command.detail.history": "处置记录",
        "command.detail.address": "地址",
        "command.detail.raised": "报警时间",
        "command.detail.source": "位置来源",
        "command.detail.notified": "推送民警数",
        "command.detail.suggested": "建议派出所",
        "command.detail.assignee": "处置民警",
        "command.detail.outcome": "处置结果",
        "command.detail.photo": "现场照片 {n}",
        "command.suggestions.title": "推荐警力",
        "command.suggestions.refresh": "刷新",
        "command.suggestions.order": "按在岗、本辖区、距离排序。",
        "command.suggestions.none": "本机构暂无可派民警。",
        "command.suggestions.no_station": "未分配派出所",
        "command.suggestions.online": "在线",
        "command.suggestions.offline": "离线",
        "command.suggestions.current": "当前民警",
        "command.suggestions.in_zone": "本辖区",
        "command.action.dispatch": "派警",
        "command.action.reassign": "改派",
        "command.action.close": "结案",
        "command.close.note": "结案说明（必填）",
        "command.confirm.reassign": "将此警情从 {from} 改派给 {to}？",
        "command.done.dispatch": "已派警给 {name}。",
        "command.done.reassign": "已改派给 {name}。",
        "command.done.close": "已结案。",
        "command.working": "正在提交…",
        "command.sound.on": "提示音：开",
        "command.sound.off": "提示音：关",
        "command.cue.escalated": "新的待派警情：{alarm}",
        "error.officer_required": "请选择一名民警。",
        "error.bad_period": "统计周期须为 1 到 93 天，且结束日期不早于开始日期。",
        "error.bad_date": "请输入有效的日期。",
        "kpi.link": "考核看板",
        "kpi.title": "考核看板",
        "kpi.back": "返回指挥室",
        "kpi.period": "统计周期",
        "kpi.from": "开始日期",
        "kpi.to": "结束日期",
        "kpi.group": "统计对象",
        "kpi.by.officer": "按民警",
        "kpi.by.station": "按派出所",
        "kpi.show": "查询",
        "kpi.table": "派单与处置统计",
        "kpi.summary": "{from} 至 {to}（{timezone}），共 {count} 行。",
        "kpi.explain": (
            "“看到后放弃”是民警看过派单却未抢单；“送达未查看”（派单到了手机但没有被打开）"
            "和“未送达”（手机没有确认收到，多因网络不佳）单独统计，不计为放弃。"
        ),
        "kpi.no_station": "未分配派出所",
        "kpi.duration": "{m}分{s}秒",
        "kpi.reason": "{reason} × {n}",
        "kpi.reason_none": "未说明",
        "kpi.rating": "{stars} 星（{n} 次）",
        "kpi.group.offers": "派单",
        "kpi.group.answers": "本人应答",
        "kpi.group.apart": "未看到（不计为放弃）",
        "kpi.group.times": "用时（中位数）",
        "kpi.group.results": "结果",
        "kpi.col.name_officer": "民警",
        "kpi.col.name_station": "派出所",
        "kpi.col.station_id": "所属派出所",
        "kpi.col.offers_received": "收到",
        "kpi.col.offers_delivered": "送达",
        "kpi.col.offers_seen": "查看",
        "kpi.col.offers_claimed": "抢单",
        "kpi.col.offers_declined": "拒绝（原因）",
        "kpi.col.offers_missed_seen": "看到后放弃",
        "kpi.col.offers_unseen": "送达未查看",
        "kpi.col.offers_undelivered": "未送达（网络）",
        "kpi.col.median_claim_s": "抢单",
        "kpi.col.median_arrive_s": "到场",
        "kpi.col.resolutions": "办结",
        "kpi.col.avg_rating": "群众评分",
        "kpi.hint.offers_missed_seen": "看过派单，直到派单结束也没有抢单或拒绝",
        "kpi.hint.offers_unseen": "派单已到手机，但一直没有被打开",
        "kpi.hint.offers_undelivered": "手机没有确认收到派单，多因网络不佳或应用未打开",
        "kpi.hint.median_claim_s": "从报警到抢单",
        "kpi.hint.median_arrive_s": "从接警到到场",
        # ---- end of the command room and assessment board block ----
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
        # ---- Alarm flow: citizen and officer views (alarm issue) ----
        "alarm.category.taxi_dispute": "出租车纠纷",
        "alarm.category.missing_person": "走失寻人",
        "alarm.category.animal_nuisance": "动物扰民",
        "alarm.category.lost_item": "失物招领",
        "alarm.category.neighbour_dispute": "邻里纠纷",
        "alarm.category.noise": "噪音扰民",
        "alarm.distance.m": "{n} 米",
        "alarm.distance.km": "{n} 公里",
        "alarm.eta": "{n} 分钟",
        "alarm.photo": "照片 {n}",
        "alarm.place.coordinates": "坐标 {lat}, {lon}（无门牌地址）",
        "citizen.location.plate_checking": "正在查询门牌…",
        "citizen.location.unknown_plate": (
            "未找到门牌编号 {code}，将改用您的定位或地图选点。"
        ),
        "citizen.location.plate": "门牌地址：{address}",
        "citizen.location.gps": "GPS 定位（精度约 ±{meters} 米）",
        "citizen.location.pin": (
            "地图选点：拖动图钉或点击地图，标出需要民警到达的位置。"
        ),
        "citizen.location.use_pin": "位置不准？在地图上选点",
        "citizen.location.use_gps": "使用我的当前位置",
        "citizen.location.marker": "报警位置",
        "citizen.service.closed_title": "此处暂不受理网上报警",
        "citizen.service.outside_hours": (
            "网上报警的受理时间为 {start} 至 {end}，现在不在受理时间内。"
        ),
        "citizen.service.outside_territory": "您所在的位置不在本平台的服务范围内。",
        "citizen.service.unavailable": "此处现在无法受理网上报警。",
        "citizen.service.call_hint": "如需报警，请点击页面顶部的红色按钮拨打110。",
        "citizen.form.category": "警情类别",
        "citizen.form.description": "情况说明（选填）",
        "citizen.form.description_hint": "发生了什么？有什么需要民警注意的？",
        "citizen.form.count": "{n}/{max} 字",
        "citizen.form.photos": "现场照片（选填，最多4张）",
        "citizen.photos.too_many": "最多只能添加 {max} 张照片。",
        "citizen.photos.bad_type": "{name} 不是 JPEG、PNG 或 WebP 图片。",
        "citizen.photos.too_big": "{name} 超过 {max} MB，请换一张。",
        "citizen.photos.total_too_big": "照片总大小不能超过 {max} MB。",
        "citizen.photos.remove": "删除第 {n} 张照片",
        "citizen.send.button": "一键报警",
        "citizen.send.countdown": "{n} 秒后发送 · 点此取消",
        "citizen.send.sending": "正在发送…",
        "citizen.send.retry": "重新发送",
        "citizen.send.cancelled": "已取消发送。",
        "citizen.send.need_category": "请先选择警情类别。",
        "citizen.send.hint": "点击后有3秒可以取消。",
        "citizen.track.title": "处理进度",
        "citizen.track.officer": "出警民警",
        "citizen.track.distance": "距您 {distance}",
        "citizen.track.eta": "预计约 {eta}后到达",
        "citizen.track.updated": "位置更新于 {time}",
        "citizen.track.no_position": "民警位置暂未上报。",
        "citizen.track.scene": "报警位置",
        "citizen.track.new": "再次报警",
        "citizen.status.offering": "正在通知附近民警…",
        "citizen.status.escalated": "已转指挥室，正在为您派警",
        "citizen.status.assigned": "民警已接警",
        "citizen.status.en_route": "民警正在赶来",
        "citizen.status.arrived": "民警已到达现场",
        "citizen.status.resolved": "警情已处置完毕",
        "citizen.status.cancelled": "报警已取消",
        "citizen.status.closed": "警情已结束",
        "citizen.timeline.sent": "报警已发送",
        "citizen.timeline.notified": "已通知附近 {count} 名民警",
        "citizen.timeline.searching": "正在寻找附近的民警…",
        "citizen.timeline.none_nearby": "附近暂无在岗民警",
        "citizen.timeline.claimed": "民警 {officer} 已接警",
        "citizen.timeline.an_officer": "一名民警",
        "citizen.timeline.on_the_way": "民警已出发",
        "citizen.timeline.arrived": "民警已到达现场",
        "citizen.timeline.resolved": "已处置完毕",
        "citizen.timeline.cancelled": "您已取消报警",
        "citizen.timeline.passed_to_command": "附近民警未及时接单，已转指挥室派警",
        "citizen.timeline.closed": "指挥室已结束此警情",
        "citizen.cancel.button": "取消报警",
        "citizen.cancel.confirm": "确定取消这次报警吗？",
        "citizen.rating.title": "请为本次服务评分",
        "citizen.rating.stars": "评分",
        "citizen.rating.star_n": "{n} 星",
        "citizen.rating.comment": "意见或建议（选填）",
        "citizen.rating.submit": "提交评价",
        "citizen.rating.thanks": "感谢您的评价：{stars}",
        "officer.position.not_shared": "离岗时不上报位置。",
        "officer.position.waiting": "等待定位…",
        "officer.position.sent": "位置已于 {time} 上报",
        "officer.position.inaccurate": "定位精度太差，暂不上报。",
        "officer.offer.title": "新警情",
        "officer.offer.countdown": "剩余 {n} 秒",
        "officer.offer.distance": "距您 {distance}",
        "officer.offer.claim": "抢单",
        "officer.offer.decline": "不接",
        "officer.offer.claiming": "正在抢单…",
        "officer.offer.result.yours": "抢单成功，此警情由您处置。",
        "officer.offer.result.taken": "已被其他民警抢单。",
        "officer.offer.result.expired": "抢单时间已过，已转指挥室。",
        "officer.offer.result.cancelled": "群众已取消报警。",
        "officer.offer.result.not_offered": "此警情未推送给您。",
        "officer.offer.result.declined": "已放弃此警情。",
        "officer.decline.title": "不接的原因",
        "officer.decline.reason.far": "距离太远",
        "officer.decline.reason.busy": "正在处理其他警情",
        "officer.decline.reason.equipment": "装备或车辆不便",
        "officer.decline.reason.other": "其他原因",
        "officer.decline.details": "补充说明",
        "officer.decline.submit": "确认不接",
        "officer.decline.back": "返回",
        "officer.decline.need_reason": "请选择或填写原因。",
        "officer.job.title": "当前警情",
        "officer.job.category": "类别",
        "officer.job.address": "地点",
        "officer.job.time": "报警时间",
        "officer.job.scene": "现场",
        "officer.job.route": "直线距离 {distance}（直线，非导航路线）",
        "officer.job.no_fix": "正在获取您的位置，稍后显示到现场的直线距离。",
        "officer.job.no_description": "群众未填写情况说明。",
        "officer.job.en_route": "出发",
        "officer.job.arrived": "到达现场",
        "officer.job.resolve": "处置完毕",
        "officer.job.note": "处置结果（必填）",
        "officer.job.resolve_confirm": "确认处置完毕",
        "officer.job.back": "返回",
        "officer.job.need_note": "请简要填写处置结果。",
        "officer.job.status.assigned": "已接警",
        "officer.job.status.en_route": "在途",
        "officer.job.status.arrived": "已到场",
        "officer.job.status.resolved": "已处置",
        "officer.job.ended.resolved": "警情已处置完毕，辛苦了。",
        "officer.job.ended.cancelled": "群众已取消报警，此警情已结束。",
        "officer.job.ended.closed": "指挥室已结束此警情。",
        "officer.job.ended.reassigned": "指挥室已将此警情改派给其他民警。",
        "error.unknown_plate": "找不到这个门牌编号。",
        "error.outside_hours": "现在不在网上报警受理时间内，请拨打110。",
        "error.outside_territory": "此位置不在本平台服务范围内，请拨打110。",
        "error.bad_category": "请选择列出的警情类别。",
        "error.too_many_alarms": "报警次数过多，请稍后再试；紧急情况请拨打110。",
        "error.too_many_photos": "最多只能附4张照片。",
        "error.photo_too_large": "照片太大，请换一张。",
        "error.not_an_image": "照片不是 JPEG、PNG 或 WebP 图片。",
        "error.too_large": "上传内容太大，请减少照片。",
        "error.taken": "已被其他民警抢单。",
        "error.expired": "抢单时间已过，警情已转指挥室。",
        "error.cancelled": "群众已取消报警。",
        "error.not_offered": "此警情未推送给您。",
        "error.note_required": "请简要填写处置结果。",
        "error.reason_required": "请填写不接的原因。",
        "error.bad_transition": "警情状态已变化，请刷新后再试。",
        "error.already_rated": "您已评价过。",
        "error.not_resolved": "警情处置完毕后才能评价。",
        "error.off_duty": "离岗时不上报位置。",
        # ---- end of the alarm flow block ----
        # ---- Web push: the officer's notification step (push issue) ----
        "officer.push.title": "后台通知",
        "officer.push.intro": "开启后，应用关闭时也能收到附近新警情。",
        "officer.push.enable": "开启通知",
        "officer.push.disable": "关闭通知",
        "officer.push.enabling": "正在开启通知…",
        "officer.push.on": "通知已开启：应用关闭时也会收到新警情。",
        "officer.push.off": "通知已关闭。应用打开时仍会响铃提醒新警情。",
        "officer.push.denied": (
            "本站通知已被禁止。请在浏览器或系统设置中允许通知，再回到此页开启。"
        ),
        "officer.push.unsupported": (
            "此浏览器不支持后台通知（例如微信内置浏览器，或未添加到主屏幕的"
            " iOS Safari）。应用打开时仍会响铃提醒新警情。"
        ),
        "officer.push.ios_install": (
            "iPhone 上请用 Safari 的「分享 → 添加到主屏幕」安装警滴，"
            "再从主屏幕打开并开启通知。"
        ),
        "officer.push.wechat": "请点右上角「…」，选择在浏览器中打开警滴。",
        "officer.push.no_worker": "此浏览器未启用后台服务（Service Worker）。",
        "officer.push.failed": "未能开启通知：{error}",
        "officer.push.support.label": "此设备支持的提醒",
        "officer.push.support.open": "应用打开时响铃提醒",
        "officer.push.support.background": "应用关闭时的通知",
        "officer.push.support.actions": "在通知上直接抢单",
        "officer.push.yes": "支持",
        "officer.push.no": "不支持",
        "officer.push.offer_gone": "该警情已不可抢：已被抢单、已过时或已取消。",
        "officer.push.claim_failed": "未能从通知抢单，请在此重试。",
        "expert.push.intro": "开启后，应用关闭时也能收到会诊邀请。",
        "expert.push.on": "通知已开启：应用关闭时也会收到会诊邀请。",
        "expert.push.off": "通知已关闭。打开此页时仍会看到新的会诊邀请。",
        "error.push_disabled": "服务器未开启推送通知。",
        # ---- end of the web push block ----
        # ---- expert pool: applications, review, directory ----
        "apply.title": "申请加入专家库",
        "apply.intro": (
            "灾害事故、医疗急救、法律、心理等领域的专业人士可申请加入专家库，"
            "经公安机关审核后受邀在线参与警情会诊。"
        ),
        "apply.tenant": "受理机构",
        "apply.name": "姓名",
        "apply.phone": "手机号",
        "apply.email": "电子邮箱",
        "apply.contact_hint": "手机号和邮箱至少填写一项，用于查询进度和接收通知。",
        "apply.category": "专业领域",
        "apply.skills": "专长（标签）",
        "apply.skills_hint": "输入一项专长后按回车或点“添加”。",
        "apply.skill_add": "添加",
        "apply.skill_remove": "移除 {skill}",
        "apply.organisation": "工作单位（选填）",
        "apply.qualifications": "资质与经历",
        "apply.terms": (
            "我同意公安机关为审核和联系之需使用以上信息，并确认所填内容真实。"
        ),
        "apply.submit": "提交申请",
        "apply.sending": "正在提交…",
        "apply.done": (
            "申请已提交。请记下申请编号 {reference}，凭编号和联系方式查询进度。"
        ),
        "apply.check.title": "查询申请进度",
        "apply.check.reference": "申请编号",
        "apply.check.contact": "申请时填写的手机号或邮箱",
        "apply.check.submit": "查询",
        "apply.check.result": "申请 {reference}：{status}",
        "apply.check.reason": "说明：{reason}",
        "apply_status.pending": "待审核",
        "apply_status.more_info": "需补充材料",
        "apply_status.approved": "已通过",
        "apply_status.rejected": "未通过",
        "decision.approve": "批准",
        "decision.reject": "驳回",
        "decision.more_info": "要求补充",
        "decision.suspend": "暂停",
        "decision.reinstate": "恢复",
        "decision.entry": "{decision}（{name}，{at}）",
        "availability.available": "可会诊",
        "availability.busy": "忙碌",
        "availability.away": "暂不可用",
        "experts.title": "专家库",
        "experts.link": "专家库",
        "experts.filter.category": "领域",
        "experts.filter.all": "全部领域",
        "experts.filter.skill": "专长",
        "experts.filter.submit": "筛选",
        "experts.col.name": "姓名",
        "experts.col.category": "领域",
        "experts.col.skills": "专长",
        "experts.col.organisation": "单位",
        "experts.col.availability": "状态",
        "experts.col.consultations": "会诊次数",
        "expert.availability.title": "我的状态",
        "expert.availability.saved": "状态已更新。",
        "admin.apps.title": "专家申请",
        "admin.apps.filter": "按状态",
        "admin.apps.all": "全部",
        "admin.apps.col.reference": "编号",
        "admin.apps.col.applicant": "申请人",
        "admin.apps.col.field": "领域与专长",
        "admin.apps.col.qualifications": "资质",
        "admin.apps.col.status": "状态与记录",
        "admin.apps.reason_prompt": "请填写原因（申请人可见）：",
        "admin.apps.account": (
            "已创建专家账号。用户名：{username}，初始密码：{password}。"
            "密码只显示这一次，请当面或电话转交专家。"
        ),
        "admin.experts.title": "专家",
        "admin.experts.suspend": "暂停",
        "admin.experts.reinstate": "恢复",
        "admin.experts.suspended": "已暂停",
        "admin.experts.suspend_prompt": "暂停 {name} 的原因：",
        "error.tenant_required": "请选择受理机构。",
        "error.name_required": "请填写姓名。",
        "error.contact_required": "请填写手机号或电子邮箱。",
        "error.phone_invalid": "手机号格式不正确。",
        "error.email_invalid": "电子邮箱格式不正确。",
        "error.category_invalid": "请选择列出的专业领域。",
        "error.skills_required": "请至少添加一项专长。",
        "error.skill_invalid": "每项专长须为简短文字（30字以内）。",
        "error.too_many_skills": "专长最多12项。",
        "error.qualifications_required": "请填写资质与经历。",
        "error.terms_required": "请先同意条款。",
        "error.terms_outdated": "条款已更新，请刷新页面重新阅读。",
        "error.too_many_applications": "此网络提交的申请过多，请一小时后再试。",
        "error.decision_reason_required": "请填写原因，申请人可以看到。",
        "error.decided": "此申请已处理。",
        "error.availability_invalid": "请选择一个状态。",
        # ---- end of the expert pool block ----
        # ---- consultation rooms (room.html, room-*.js; rooms issue) ----
        "room.title": "会诊室",
        "room.alarm": "关联警情：",
        "room.closed": "会诊已结束",
        "room.transcript": "下载会诊记录",
        "room.messages": "会诊消息",
        "room.compose": "消息",
        "room.attach": "添加文件",
        "room.send": "发送",
        "room.members": "成员",
        "room.invite": "邀请与结束",
        "room.invite_send": "邀请所选专家",
        "room.invite_none": "请至少选择一位专家。",
        "room.summary": "会诊结论",
        "room.summary_needed": "请填写会诊结论。",
        "room.close": "结束会诊",
        "room.image": "图片",
        "room.file": "文件（{kb} KB）",
        "room.read_by": "{n} 人已读",
        "room.read_up_to": "已读至第 {seq} 条",
        "room.retry": "重试",
        "room.here": "在线",
        "room.away": "不在线",
        "room.remove": "移出",
        "room.gone": "您已不在此会诊室中。",
        "room.state.invited": "已邀请",
        "room.state.active": "已加入",
        "room.state.declined": "已谢绝",
        "room.state.removed": "已移出",
        "expert.rooms.accept": "接受",
        "expert.rooms.decline": "谢绝",
        "expert.rooms.enter": "进入会诊室",
        "officer.consult.button": "专家会诊",
        "officer.consult.experts": "选择专家",
        "officer.consult.start": "发起会诊",
        "officer.consult.none": "本机构暂无可邀请的专家。",
        "officer.consult.room_title": "警情会诊：{category}",
        # ---- end of the consultation rooms block ----
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
        # ---- Command room: alarm queue, dispatch; assessment board (kpi) ----
        "command.officers.count_on": "{count} officers, {on} on duty",
        "command.queue.title": "Alarm queue",
        "command.queue.escalated": "Waiting for dispatch",
        "command.queue.active": "In progress",
        "command.queue.none_waiting": "No alarm is waiting for dispatch.",
        "command.queue.none_active": "No other alarm is in progress.",
        "command.queue.suggested": "Suggested station: {station}",
        "command.queue.no_station": "Outside every station's zone",
        "command.queue.assignee": "Officer: {name}",
        "command.queue.offered": "Offered to {count} officers",
        "command.queue.age": "raised {age} ago",
        "command.queue.waiting": "waiting {age}",
        "command.alarm.no_address": "(no address given)",
        "command.status.offering": "Offered",
        "command.status.escalated": "Needs dispatch",
        "command.status.assigned": "Assigned",
        "command.status.en_route": "On the way",
        "command.status.arrived": "On scene",
        "command.status.resolved": "Resolved",
        "command.status.cancelled": "Cancelled",
        "command.status.closed": "Closed",
        "command.legend.urgent": "Overdue (pulsing)",
        "command.category.taxi_dispute": "Taxi dispute",
        "command.category.missing_person": "Missing person",
        "command.category.animal_nuisance": "Animal nuisance",
        "command.category.lost_item": "Lost and found",
        "command.category.neighbour_dispute": "Neighbour dispute",
        "command.category.noise": "Noise nuisance",
        "command.source.gps": "Phone location",
        "command.source.pin": "Pin on the map",
        "command.source.plate": "Address plate QR code",
        "command.actor.system": "System",
        "command.actor.citizen": "The citizen",
        "command.actor.staff": "Staff",
        "command.via.claim": "claimed",
        "command.via.dispatch": "dispatched",
        "command.distance.unknown": "position unknown",
        "command.distance.m": "{n} m",
        "command.distance.km": "{n} km",
        "command.detail.dismiss": "Hide",
        "command.detail.ended": "This alarm is {status} and has left the queue.",
        "command.detail.no_description": "The citizen wrote no description.",
        "command.detail.history": "History",
        "command.detail.address": "Address",
        "command.detail.raised": "Raised",
        "command.detail.source": "Location from",
        "command.detail.notified": "Officers offered",
        "command.detail.suggested": "Suggested station",
        "command.detail.assignee": "Officer",
        "command.detail.outcome": "Outcome",
        "command.detail.photo": "Photo {n} from the scene",
        "command.suggestions.title": "Officers to send",
        "command.suggestions.refresh": "Refresh",
        "command.suggestions.order": (
            "On duty first, then the zone's station, then distance."
        ),
        "command.suggestions.none": "No officer of this agency can be sent.",
        "command.suggestions.no_station": "No station",
        "command.suggestions.online": "online",
        "command.suggestions.offline": "offline",
        "command.suggestions.current": "Current officer",
        "command.suggestions.in_zone": "Zone station",
        "command.action.dispatch": "Dispatch",
        "command.action.reassign": "Reassign",
        "command.action.close": "Close alarm",
        "command.close.note": "Closing note (required)",
        "command.confirm.reassign": "Take this alarm from {from} and give it to {to}?",
        "command.done.dispatch": "Dispatched to {name}.",
        "command.done.reassign": "Reassigned to {name}.",
        "command.done.close": "Closed.",
        "command.working": "Sending…",
        "command.sound.on": "Sound: on",
        "command.sound.off": "Sound: off",
        "command.cue.escalated": "New alarm waiting for dispatch: {alarm}",
        "error.officer_required": "Choose an officer.",
        "error.bad_period": (
            "The period must be 1 to 93 days, and the end may not be before the start."
        ),
        "error.bad_date": "Enter a valid date.",
        "kpi.link": "Assessment board",
        "kpi.title": "Assessment board",
        "kpi.back": "Back to the command room",
        "kpi.period": "Period",
        "kpi.from": "From",
        "kpi.to": "To",
        "kpi.group": "Per",
        "kpi.by.officer": "Officer",
        "kpi.by.station": "Station",
        "kpi.show": "Show",
        "kpi.table": "Offers and outcomes",
        "kpi.summary": "{from} to {to} ({timezone}), {count} rows.",
        "kpi.explain": (
            "'Seen, let pass' counts offers the officer looked at and did not take. "
            "'Not opened' (reached the phone, never opened) and 'Not delivered' "
            "(the phone never confirmed it, mostly a bad connection) are counted "
            "apart and are not counted as letting an offer pass."
        ),
        "kpi.no_station": "No station",
        "kpi.duration": "{m} min {s} s",
        "kpi.reason": "{reason} × {n}",
        "kpi.reason_none": "no reason given",
        "kpi.rating": "{stars} stars ({n})",
        "kpi.group.offers": "Offers",
        "kpi.group.answers": "Officer's answer",
        "kpi.group.apart": "Not seen (not counted as passing)",
        "kpi.group.times": "Median time",
        "kpi.group.results": "Results",
        "kpi.col.name_officer": "Officer",
        "kpi.col.name_station": "Station",
        "kpi.col.station_id": "Station",
        "kpi.col.offers_received": "Received",
        "kpi.col.offers_delivered": "Delivered",
        "kpi.col.offers_seen": "Seen",
        "kpi.col.offers_claimed": "Claimed",
        "kpi.col.offers_declined": "Declined (reasons)",
        "kpi.col.offers_missed_seen": "Seen, let pass",
        "kpi.col.offers_unseen": "Not opened",
        "kpi.col.offers_undelivered": "Not delivered (connection)",
        "kpi.col.median_claim_s": "To claim",
        "kpi.col.median_arrive_s": "To arrive",
        "kpi.col.resolutions": "Resolved",
        "kpi.col.avg_rating": "Citizen rating",
        "kpi.hint.offers_missed_seen": (
            "Looked at the offer, then neither took nor declined it"
        ),
        "kpi.hint.offers_unseen": "The offer reached the phone but was never opened",
        "kpi.hint.offers_undelivered": (
            "The phone never confirmed the offer: a bad connection or a closed app"
        ),
        "kpi.hint.median_claim_s": "From the alarm to the claim",
        "kpi.hint.median_arrive_s": "From taking the alarm to arriving",
        # ---- end of the command room and assessment board block ----
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
        # ---- Alarm flow: citizen and officer views (alarm issue) ----
        "alarm.category.taxi_dispute": "Taxi dispute",
        "alarm.category.missing_person": "Missing person",
        "alarm.category.animal_nuisance": "Animal nuisance",
        "alarm.category.lost_item": "Lost and found",
        "alarm.category.neighbour_dispute": "Neighbour dispute",
        "alarm.category.noise": "Noise nuisance",
        "alarm.distance.m": "{n} m",
        "alarm.distance.km": "{n} km",
        "alarm.eta": "about {n} min",
        "alarm.photo": "Photo {n}",
        "alarm.place.coordinates": "At {lat}, {lon} (no street address)",
        "citizen.location.plate_checking": "Looking up the address plate…",
        "citizen.location.unknown_plate": (
            "Address plate {code} is unknown; your position or a pin on the "
            "map is used instead."
        ),
        "citizen.location.plate": "Address plate: {address}",
        "citizen.location.gps": "GPS position (±{meters} m)",
        "citizen.location.pin": (
            "Pin on the map: drag it, or tap the map, where the officer should come."
        ),
        "citizen.location.use_pin": "Wrong place? Set a pin on the map",
        "citizen.location.use_gps": "Use my current position",
        "citizen.location.marker": "Place of the alarm",
        "citizen.service.closed_title": "Online alarms are not taken here now",
        "citizen.service.outside_hours": (
            "Online alarms are taken from {start} to {end}; it is outside "
            "those hours now."
        ),
        "citizen.service.outside_territory": (
            "This place is outside the area served here."
        ),
        "citizen.service.unavailable": "Online alarms cannot be taken here now.",
        "citizen.service.call_hint": (
            "To reach the police, tap the red button at the top to call 110."
        ),
        "citizen.form.category": "What happened",
        "citizen.form.description": "Details (optional)",
        "citizen.form.description_hint": (
            "What is going on? What should the officer know?"
        ),
        "citizen.form.count": "{n}/{max} characters",
        "citizen.form.photos": "Photos of the scene (optional, up to 4)",
        "citizen.photos.too_many": "You can add at most {max} photos.",
        "citizen.photos.bad_type": "{name} is not a JPEG, PNG or WebP picture.",
        "citizen.photos.too_big": "{name} is larger than {max} MB; choose another.",
        "citizen.photos.total_too_big": "All photos together must stay under {max} MB.",
        "citizen.photos.remove": "Remove photo {n}",
        "citizen.send.button": "Alert the police",
        "citizen.send.countdown": "Sending in {n} s · tap to cancel",
        "citizen.send.sending": "Sending…",
        "citizen.send.retry": "Send again",
        "citizen.send.cancelled": "Sending was cancelled.",
        "citizen.send.need_category": "Choose what happened first.",
        "citizen.send.hint": "After the tap you have 3 seconds to cancel.",
        "citizen.track.title": "Progress",
        "citizen.track.officer": "Your officer",
        "citizen.track.distance": "{distance} away",
        "citizen.track.eta": "Arriving in {eta}",
        "citizen.track.updated": "Position from {time}",
        "citizen.track.no_position": "The officer's position is not known yet.",
        "citizen.track.scene": "Place of the alarm",
        "citizen.track.new": "Report something else",
        "citizen.status.offering": "Alerting officers nearby…",
        "citizen.status.escalated": (
            "Passed to the command room, which is sending an officer"
        ),
        "citizen.status.assigned": "An officer has taken your alarm",
        "citizen.status.en_route": "The officer is on the way",
        "citizen.status.arrived": "The officer has arrived",
        "citizen.status.resolved": "Resolved",
        "citizen.status.cancelled": "Alarm cancelled",
        "citizen.status.closed": "Closed",
        "citizen.timeline.sent": "Alarm sent",
        "citizen.timeline.notified": "{count} officers nearby alerted",
        "citizen.timeline.searching": "Looking for officers nearby…",
        "citizen.timeline.none_nearby": "No officer on duty nearby",
        "citizen.timeline.claimed": "Taken by officer {officer}",
        "citizen.timeline.an_officer": "an officer",
        "citizen.timeline.on_the_way": "The officer set off",
        "citizen.timeline.arrived": "The officer arrived",
        "citizen.timeline.resolved": "Resolved",
        "citizen.timeline.cancelled": "You cancelled the alarm",
        "citizen.timeline.passed_to_command": (
            "Not taken in time nearby; passed to the command room"
        ),
        "citizen.timeline.closed": "Closed by the command room",
        "citizen.cancel.button": "Cancel the alarm",
        "citizen.cancel.confirm": "Cancel this alarm?",
        "citizen.rating.title": "How was the service?",
        "citizen.rating.stars": "Rating",
        "citizen.rating.star_n": "{n} stars",
        "citizen.rating.comment": "Comments (optional)",
        "citizen.rating.submit": "Send rating",
        "citizen.rating.thanks": "Thank you for your rating: {stars}",
        "officer.position.not_shared": "Off duty: your position is not shared.",
        "officer.position.waiting": "Waiting for a position fix…",
        "officer.position.sent": "Position sent at {time}",
        "officer.position.inaccurate": "The position is too inaccurate to send.",
        "officer.offer.title": "New alarm",
        "officer.offer.countdown": "{n} s left",
        "officer.offer.distance": "{distance} from you",
        "officer.offer.claim": "Claim",
        "officer.offer.decline": "Decline",
        "officer.offer.claiming": "Claiming…",
        "officer.offer.result.yours": "Claimed: this alarm is yours.",
        "officer.offer.result.taken": "Taken by another officer.",
        "officer.offer.result.expired": "The offer expired; the command room has it.",
        "officer.offer.result.cancelled": "The citizen cancelled the alarm.",
        "officer.offer.result.not_offered": "This alarm was not offered to you.",
        "officer.offer.result.declined": "You declined the alarm.",
        "officer.decline.title": "Why decline?",
        "officer.decline.reason.far": "Too far away",
        "officer.decline.reason.busy": "Handling another case",
        "officer.decline.reason.equipment": "No vehicle or equipment",
        "officer.decline.reason.other": "Another reason",
        "officer.decline.details": "Details",
        "officer.decline.submit": "Decline",
        "officer.decline.back": "Back",
        "officer.decline.need_reason": "Choose or write a reason.",
        "officer.job.title": "Current alarm",
        "officer.job.category": "Category",
        "officer.job.address": "Place",
        "officer.job.time": "Raised at",
        "officer.job.scene": "Scene",
        "officer.job.route": "{distance} in a direct line (not a driving route)",
        "officer.job.no_fix": (
            "Finding your position; the direct-line distance follows."
        ),
        "officer.job.no_description": "The citizen gave no details.",
        "officer.job.en_route": "On the way",
        "officer.job.arrived": "Arrived",
        "officer.job.resolve": "Resolved",
        "officer.job.note": "Outcome (required)",
        "officer.job.resolve_confirm": "Confirm resolved",
        "officer.job.back": "Back",
        "officer.job.need_note": "Write a short note on the outcome.",
        "officer.job.status.assigned": "Assigned",
        "officer.job.status.en_route": "On the way",
        "officer.job.status.arrived": "On scene",
        "officer.job.status.resolved": "Resolved",
        "officer.job.ended.resolved": "The alarm is resolved. Well done.",
        "officer.job.ended.cancelled": (
            "The citizen cancelled the alarm; the job has ended."
        ),
        "officer.job.ended.closed": "The command room closed this alarm.",
        "officer.job.ended.reassigned": (
            "The command room gave this alarm to another officer."
        ),
        "error.unknown_plate": "This address plate code is unknown.",
        "error.outside_hours": "Online alarms are not taken at this hour. Call 110.",
        "error.outside_territory": (
            "This place is outside the area served here. Call 110."
        ),
        "error.bad_category": "Choose one of the listed categories.",
        "error.too_many_alarms": (
            "Too many alarms from here; try again later, or call 110 in an emergency."
        ),
        "error.too_many_photos": "Attach at most 4 photos.",
        "error.photo_too_large": "A photo is too large; choose another.",
        "error.not_an_image": "A photo is not a JPEG, PNG or WebP picture.",
        "error.too_large": "The upload is too large; attach fewer photos.",
        "error.taken": "Taken by another officer.",
        "error.expired": "The offer expired; the command room has the alarm.",
        "error.cancelled": "The citizen cancelled the alarm.",
        "error.not_offered": "This alarm was not offered to you.",
        "error.note_required": "Write a short note on the outcome.",
        "error.reason_required": "Give a reason for declining.",
        "error.bad_transition": (
            "The alarm has changed meanwhile; reload and try again."
        ),
        "error.already_rated": "You have already rated this alarm.",
        "error.not_resolved": "You can rate once the alarm is resolved.",
        "error.off_duty": "Positions are shared only on duty.",
        # ---- end of the alarm flow block ----
        # ---- Web push: the officer's notification step (push issue) ----
        "officer.push.title": "Notifications",
        "officer.push.intro": (
            "Turn them on to get nearby alarms while the app is closed."
        ),
        "officer.push.enable": "Turn on notifications",
        "officer.push.disable": "Turn off notifications",
        "officer.push.enabling": "Turning notifications on…",
        "officer.push.on": (
            "Notifications are on: alarms reach you with the app closed."
        ),
        "officer.push.off": (
            "Notifications are off. Alarms still ring while the app is open."
        ),
        "officer.push.denied": (
            "Notifications are blocked for this site. Allow them in the browser "
            "or system settings, then come back here."
        ),
        "officer.push.unsupported": (
            "This browser cannot show notifications with the app closed (for "
            "example WeChat's browser, or iOS Safari outside the installed app). "
            "Alarms still ring while the app is open."
        ),
        "officer.push.ios_install": (
            "On an iPhone, install Jingdi with Safari's Share → Add to Home "
            "Screen, open it from the home screen and turn notifications on there."
        ),
        "officer.push.wechat": (
            "Tap ··· at the top right and open Jingdi in the browser."
        ),
        "officer.push.no_worker": "This browser has no service worker running.",
        "officer.push.failed": "Notifications could not be turned on: {error}",
        "officer.push.support.label": "Alerts this device supports",
        "officer.push.support.open": "Ringing while the app is open",
        "officer.push.support.background": "Notifications with the app closed",
        "officer.push.support.actions": "Claiming from the notification",
        "officer.push.yes": "Yes",
        "officer.push.no": "No",
        "officer.push.offer_gone": (
            "That alarm is no longer open: taken, expired or cancelled."
        ),
        "officer.push.claim_failed": (
            "Claiming from the notification failed; try again here."
        ),
        "expert.push.intro": (
            "Turn them on to get invitations to consultations while the app is closed."
        ),
        "expert.push.on": (
            "Notifications are on: invitations reach you with the app closed."
        ),
        "expert.push.off": (
            "Notifications are off. New invitations still show on this page."
        ),
        "error.push_disabled": "Push notifications are off on this server.",
        # ---- end of the web push block ----
        # ---- expert pool: applications, review, directory ----
        "apply.title": "Join the expert pool",
        "apply.intro": (
            "Professionals in disasters, medicine, law, psychology and other "
            "fields may apply; once the police approve, they are invited to "
            "advise on incidents online."
        ),
        "apply.tenant": "Agency",
        "apply.name": "Name",
        "apply.phone": "Mobile phone",
        "apply.email": "E-mail",
        "apply.contact_hint": (
            "Give a phone number or an e-mail address (or both) to check the "
            "status and to be contacted."
        ),
        "apply.category": "Field",
        "apply.skills": "Skills (tags)",
        "apply.skills_hint": "Type a skill and press Enter or Add.",
        "apply.skill_add": "Add",
        "apply.skill_remove": "Remove {skill}",
        "apply.organisation": "Organisation (optional)",
        "apply.qualifications": "Qualifications and experience",
        "apply.terms": (
            "I agree that the police use this information to review my "
            "application and contact me, and confirm that it is true."
        ),
        "apply.submit": "Apply",
        "apply.sending": "Sending…",
        "apply.done": (
            "Application received. Note your reference {reference}: with it and "
            "your contact you can check the status."
        ),
        "apply.check.title": "Check an application",
        "apply.check.reference": "Reference",
        "apply.check.contact": "The phone or e-mail you gave",
        "apply.check.submit": "Check",
        "apply.check.result": "Application {reference}: {status}",
        "apply.check.reason": "Note: {reason}",
        "apply_status.pending": "awaiting review",
        "apply_status.more_info": "more information needed",
        "apply_status.approved": "approved",
        "apply_status.rejected": "not approved",
        "decision.approve": "Approve",
        "decision.reject": "Reject",
        "decision.more_info": "Ask for more",
        "decision.suspend": "Suspended",
        "decision.reinstate": "Reinstated",
        "decision.entry": "{decision} ({name}, {at})",
        "availability.available": "Available",
        "availability.busy": "Busy",
        "availability.away": "Away",
        "experts.title": "Expert directory",
        "experts.link": "Experts",
        "experts.filter.category": "Field",
        "experts.filter.all": "All fields",
        "experts.filter.skill": "Skill",
        "experts.filter.submit": "Filter",
        "experts.col.name": "Name",
        "experts.col.category": "Field",
        "experts.col.skills": "Skills",
        "experts.col.organisation": "Organisation",
        "experts.col.availability": "Availability",
        "experts.col.consultations": "Consultations",
        "expert.availability.title": "My availability",
        "expert.availability.saved": "Availability updated.",
        "admin.apps.title": "Expert applications",
        "admin.apps.filter": "Status",
        "admin.apps.all": "All",
        "admin.apps.col.reference": "Reference",
        "admin.apps.col.applicant": "Applicant",
        "admin.apps.col.field": "Field and skills",
        "admin.apps.col.qualifications": "Qualifications",
        "admin.apps.col.status": "Status and record",
        "admin.apps.reason_prompt": "Reason (the applicant will see it):",
        "admin.apps.account": (
            "Expert account created. Username: {username}, initial password: "
            "{password}. The password is shown only this once: hand it over "
            "in person or by phone."
        ),
        "admin.experts.title": "Experts",
        "admin.experts.suspend": "Suspend",
        "admin.experts.reinstate": "Reinstate",
        "admin.experts.suspended": "Suspended",
        "admin.experts.suspend_prompt": "Why suspend {name}?",
        "error.tenant_required": "Choose the agency to apply to.",
        "error.name_required": "Enter your name.",
        "error.contact_required": "Give a phone number or an e-mail address.",
        "error.phone_invalid": "The phone number is not valid.",
        "error.email_invalid": "The e-mail address is not valid.",
        "error.category_invalid": "Choose one of the listed fields.",
        "error.skills_required": "Add at least one skill.",
        "error.skill_invalid": "Each skill is a short text (30 characters at most).",
        "error.too_many_skills": "List at most 12 skills.",
        "error.qualifications_required": "Describe your qualifications.",
        "error.terms_required": "Please accept the terms first.",
        "error.terms_outdated": "The terms have changed; reload the page.",
        "error.too_many_applications": (
            "Too many applications from this network; try again in an hour."
        ),
        "error.decision_reason_required": "Give a reason; the applicant will see it.",
        "error.decided": "This application has already been decided.",
        "error.availability_invalid": "Choose an availability.",
        # ---- end of the expert pool block ----
        # ---- consultation rooms (room.html, room-*.js; rooms issue) ----
        "room.title": "Consultation room",
        "room.alarm": "Alarm: ",
        "room.closed": "This consultation is closed",
        "room.transcript": "Download the transcript",
        "room.messages": "Messages",
        "room.compose": "Message",
        "room.attach": "Attach a file",
        "room.send": "Send",
        "room.members": "Members",
        "room.invite": "Invite and close",
        "room.invite_send": "Invite the chosen experts",
        "room.invite_none": "Choose at least one expert.",
        "room.summary": "Summary",
        "room.summary_needed": "Write a summary first.",
        "room.close": "Close the room",
        "room.image": "Image",
        "room.file": "File ({kb} KB)",
        "room.read_by": "Read by {n}",
        "room.read_up_to": "Read up to #{seq}",
        "room.retry": "Retry",
        "room.here": "Here now",
        "room.away": "Not here",
        "room.remove": "Remove",
        "room.gone": "You are no longer in this room.",
        "room.state.invited": "Invited",
        "room.state.active": "Joined",
        "room.state.declined": "Declined",
        "room.state.removed": "Removed",
        "expert.rooms.accept": "Accept",
        "expert.rooms.decline": "Decline",
        "expert.rooms.enter": "Enter the room",
        "officer.consult.button": "Consult experts",
        "officer.consult.experts": "Choose experts",
        "officer.consult.start": "Open a consultation",
        "officer.consult.none": "Your agency has no experts to invite yet.",
        "officer.consult.room_title": "Alarm consultation: {category}",
        # ---- end of the consultation rooms block ----
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
