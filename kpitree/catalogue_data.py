"""The built-in template catalogue, distilled from ../shared/DOMAIN.md. Plain data, no Django.

Loaded into KpiTemplate / TreeTemplate / TemplateNode by the data migration and by
`manage.py load_catalogue` (see `sync`). Benchmarks are only those the domain articles give:
納品率 95%/月, CTR 1–2%, CPA −20%, first response within 24 h, CSAT ≥ 80%, +5 top-10 articles
a month. Rates are in %, so formulas divide them by 100 (受注数 = 架電数 × 接続率/100 × …).

Adding a KPI template (checklist): add its KPIs to KPIS (a code "<type>.<name>" that never
changes once used: nodes keep it in template_code), add the tree to TREES with one line per node
(local code, catalogue KPI, parent's local code, options), then `manage.py load_catalogue`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# code, Japanese name, English name, unit, direction, time aggregation, perspective,
# output/outcome, importance, benchmark, benchmark source, Japanese definition, English definition
_K = tuple[str, str, str, str, str, str, str, str, int, float | None, str, str, str]

# fmt: off
_KPIS: list[_K] = [
    # -- outbound call centre -----------------------------------------------------------------
    ("call.orders", "受注数", "Orders won", "件", "up", "sum", "financial", "outcome", 5, None, "",
     "架電から受注に至った件数（月次、契約日基準）。受注数 = 架電数 × 接続率 × アポ取得率 × 商談化率 × 受注率。",
     "Deals won from the calls (monthly, by contract date). Orders = calls × connection rate × appointment rate × meeting rate × win rate."),
    ("call.calls", "架電数", "Calls made", "件", "up", "sum", "process", "output", 3, None, "",
     "発信した通話の数（不通・留守電を含む）。",
     "Outgoing calls placed, including unanswered ones."),
    ("call.connect_rate", "接続率", "Connection rate", "%", "up", "avg", "process", "output", 3, None, "",
     "架電のうち決裁者・担当者につながった割合。",
     "Share of calls that reached the decision maker or person in charge."),
    ("call.appt_rate", "アポ取得率", "Appointment rate", "%", "up", "avg", "process", "outcome", 4, None, "",
     "接続した通話のうちアポイントを獲得した割合。",
     "Share of connected calls that won an appointment."),
    ("call.meeting_rate", "商談化率", "Meeting rate", "%", "up", "avg", "customer", "outcome", 4, None, "",
     "アポイントのうち商談（初回訪問またはオンライン面談の実施）に進んだ割合。",
     "Share of appointments that became a meeting (first visit or online meeting held)."),
    ("call.win_rate", "受注率", "Win rate", "%", "up", "avg", "financial", "outcome", 5, None, "",
     "商談のうち受注に至った割合。",
     "Share of meetings that ended in an order."),
    ("call.retention_rate", "継続率", "Retention rate", "%", "up", "avg", "customer", "outcome", 4, None, "",
     "受注した顧客のうち、翌月も契約を継続している割合。",
     "Share of won customers still under contract the following month."),
    ("call.time_per_call", "1件あたり架電時間", "Talk time per call", "分", "down", "avg", "process", "output", 2, None, "",
     "通話時間の合計 ÷ 架電数。",
     "Total talk time ÷ calls made."),
    ("call.cpa", "CPA（1件あたり獲得費用）", "Cost per acquisition", "円", "down", "avg", "financial", "outcome", 4, None, "",
     "外注費用 ÷ 受注数。1人当たりの費用対効果を見る指標。",
     "Outsourcing cost ÷ orders won: the cost-effectiveness per operator."),
    ("call.list_accuracy", "リスト精度", "Call list accuracy", "%", "up", "avg", "process", "output", 3, None, "",
     "架電リストのうち、番号・担当者が有効だった割合。",
     "Share of the call list whose number and contact were valid."),
    ("call.script_reviews", "トーク分岐分析の実施数", "Talk-branch analyses", "回", "up", "sum", "learning", "output", 3, None, "",
     "トークスクリプトの分岐ごとにアポ取得率を分析し、改善した回数。",
     "Times the appointment rate was analysed per branch of the talk script and the script improved."),
    # -- marketing / ads ------------------------------------------------------------------------
    ("ads.cv", "広告経由CV数", "Conversions from ads", "件", "up", "sum", "financial", "outcome", 5, None, "",
     "広告経由の問い合わせ・申込みの数。CV数 = クリック数 × CVR。",
     "Enquiries and sign-ups that came through the ads. Conversions = clicks × CVR."),
    ("ads.impressions", "表示回数", "Impressions", "回", "up", "sum", "customer", "output", 2, None, "",
     "広告が表示された回数。",
     "Times the ads were shown."),
    ("ads.clicks", "クリック数", "Clicks", "件", "up", "sum", "process", "output", 3, None, "",
     "広告がクリックされた回数。クリック数 = 表示回数 × CTR。",
     "Clicks on the ads. Clicks = impressions × CTR."),
    ("ads.ctr", "CTR（クリック率）", "Click-through rate (CTR)", "%", "up", "avg", "customer", "outcome", 4, 1.5, "業界標準 CTR 1〜2%",
     "クリック数 ÷ 表示回数 × 100。",
     "Clicks ÷ impressions × 100."),
    ("ads.cvr", "CVR（コンバージョン率）", "Conversion rate (CVR)", "%", "up", "avg", "customer", "outcome", 4, None, "",
     "CV数 ÷ クリック数 × 100。",
     "Conversions ÷ clicks × 100."),
    ("ads.cpa", "CPA", "Cost per acquisition (CPA)", "円", "down", "avg", "financial", "outcome", 4, None, "",
     "広告費 ÷ 獲得CV数。",
     "Ad spend ÷ conversions."),
    ("ads.cpa_improvement", "CPA改善率", "CPA improvement", "%", "up", "last", "financial", "outcome", 4, 20, "OKR例「CPAを20%改善」",
     "（前期のCPA − 当月のCPA）÷ 前期のCPA × 100。",
     "(CPA of the previous period − CPA this month) ÷ CPA of the previous period × 100."),
    ("ads.ltv", "LTV（顧客生涯価値）", "Customer lifetime value (LTV)", "円", "up", "avg", "financial", "outcome", 3, None, "",
     "獲得した顧客1人が契約期間全体でもたらす売上。CPAと比べて判断する。",
     "Revenue an acquired customer brings over the whole relationship; compare it with the CPA."),
    # -- creative ------------------------------------------------------------------------------
    ("creative.ontime_rate", "納期遵守率", "On-time delivery rate", "%", "up", "avg", "process", "output", 4, 95, "納品率 95%/月",
     "期限どおりに納品された成果物 ÷ 納品予定の成果物 × 100（月次）。",
     "Deliverables delivered on time ÷ deliverables due × 100 (monthly)."),
    ("creative.deliverables", "納品数", "Deliverables delivered", "件", "up", "sum", "process", "output", 2, None, "",
     "検収を通過した成果物（デザイン・原稿・動画）の数。",
     "Deliverables (designs, copy, videos) that passed acceptance."),
    ("creative.revision_reduction", "修正回数の削減率", "Reduction in revisions", "%", "up", "avg", "process", "outcome", 4, None, "",
     "（前期の1件あたり修正回数 − 当月の1件あたり修正回数）÷ 前期の値 × 100。",
     "(Revisions per deliverable last period − this month) ÷ last period × 100."),
    ("creative.views", "閲覧数", "Views", "回", "up", "sum", "customer", "outcome", 3, None, "",
     "制作物（記事・LP・動画）が閲覧された回数。",
     "Times the work (article, landing page, video) was viewed."),
    ("creative.dwell_time", "平均滞在時間", "Average time on page", "秒", "up", "avg", "customer", "outcome", 3, None, "",
     "制作物のページでの平均滞在時間。",
     "Average time visitors spend on the work's page."),
    ("creative.reactions", "ユーザー反応数", "User reactions", "件", "up", "sum", "customer", "outcome", 3, None, "",
     "いいね・シェア・コメント・問い合わせなど、制作物への反応の数。",
     "Likes, shares, comments and enquiries the work received."),
    # -- article production --------------------------------------------------------------------
    ("article.ontime_rate", "記事納品率", "Article on-time delivery rate", "%", "up", "avg", "process", "output", 4, 95, "記事納品率 95%/月",
     "期限どおりに納品された記事 ÷ 納品予定の記事 × 100（月次）。",
     "Articles delivered on time ÷ articles due × 100 (monthly)."),
    ("article.articles", "記事納品数", "Articles delivered", "本", "up", "sum", "process", "output", 2, None, "",
     "検収を通過した記事の本数。",
     "Articles that passed acceptance."),
    ("article.pv", "月間PV", "Monthly page views", "PV", "up", "sum", "customer", "output", 3, None, "",
     "対象記事の月間ページビュー。",
     "Monthly page views of the articles."),
    ("article.search_rank", "平均検索順位", "Average search rank", "位", "down", "avg", "customer", "outcome", 3, None, "",
     "対象キーワードでの記事の平均検索順位（月末時点）。",
     "Average search rank of the articles for their target keywords (end of month)."),
    ("article.top10_growth", "上位10位以内の記事の増加数", "New top-10 articles", "本", "up", "sum", "customer", "outcome", 4, 5, "上位10位以内の記事を毎月+5本",
     "当月に検索順位が10位以内に入った記事の本数（前月末との差）。",
     "Articles that entered the top 10 search results this month (change since last month end)."),
    ("article.lead_rate", "リード転換率", "Lead conversion rate", "%", "up", "avg", "customer", "outcome", 3, None, "",
     "記事経由リード ÷ PV × 100。",
     "Leads from the articles ÷ page views × 100."),
    ("article.leads", "記事経由リード", "Leads from articles", "件", "up", "sum", "financial", "outcome", 4, None, "",
     "記事から発生した問い合わせ・資料請求の数。リード = PV × リード転換率。",
     "Enquiries and downloads that came from the articles. Leads = page views × lead conversion rate."),
    # -- development ---------------------------------------------------------------------------
    ("dev.schedule_rate", "工期遵守率", "Schedule adherence", "%", "up", "avg", "process", "output", 4, None, "",
     "期限どおりに完了したマイルストーン ÷ 期限を迎えたマイルストーン × 100。",
     "Milestones completed on time ÷ milestones due × 100."),
    ("dev.bug_rate", "バグ発生率（納品後）", "Post-delivery bug rate", "%", "down", "avg", "process", "outcome", 4, None, "",
     "納品後に見つかった不具合の件数 ÷ 納品した機能数 × 100。",
     "Defects found after delivery ÷ features delivered × 100."),
    ("dev.bug_fix_rate", "バグ修正率", "Bug fix rate", "%", "up", "avg", "process", "outcome", 3, None, "",
     "報告されたバグのうち、合意した期限内に修正された割合。",
     "Share of reported bugs fixed within the agreed time."),
    ("dev.user_satisfaction", "ユーザー満足度", "User satisfaction", "%", "up", "avg", "customer", "outcome", 4, None, "",
     "利用者アンケートで「満足」「やや満足」と答えた割合。",
     "Share of users answering “satisfied” or “rather satisfied” in the survey."),
    # -- support / operations ------------------------------------------------------------------
    ("support.first_response", "初回応答時間", "First response time", "時間", "down", "avg", "process", "output", 4, 24, "初回応答は24時間以内",
     "問い合わせの受付から最初の回答までの平均時間。",
     "Average time from receiving an enquiry to the first answer."),
    ("support.tickets", "対応件数", "Tickets handled", "件", "up", "sum", "process", "output", 2, None, "",
     "対応を完了した問い合わせの件数。",
     "Enquiries handled to completion."),
    ("support.resolution_rate", "解決率", "Resolution rate", "%", "up", "avg", "customer", "outcome", 4, None, "",
     "問い合わせのうち、追加の問い合わせなしで解決した割合。",
     "Share of enquiries resolved without a follow-up enquiry."),
    ("support.handle_time", "平均処理時間", "Average handling time", "分", "down", "avg", "process", "output", 3, None, "",
     "1件の問い合わせの対応にかかった平均時間。",
     "Average time spent handling one enquiry."),
    ("support.csat", "顧客満足度（CSAT）", "Customer satisfaction (CSAT)", "%", "up", "avg", "customer", "outcome", 4, 80, "CSAT 80%以上",
     "対応後アンケートで「満足」と答えた割合。",
     "Share of customers answering “satisfied” in the post-contact survey."),
    # -- any outsourcing type ------------------------------------------------------------------
    ("any.lead_time", "進行スピード（平均リードタイム）", "Lead time", "日", "down", "avg", "process", "output", 3, None, "",
     "依頼から納品までの平均日数。",
     "Average days from request to delivery."),
    ("any.revision_reduction", "修正回数の減少率", "Reduction in rework", "%", "up", "avg", "process", "outcome", 4, None, "",
     "（前期の1件あたり修正回数 − 当月の値）÷ 前期の値 × 100。",
     "(Rework rounds per item last period − this month) ÷ last period × 100."),
    ("any.quality_score", "品質スコア", "Quality score", "pt", "up", "avg", "process", "outcome", 4, None, "",
     "品質チェックリストによる評価点（100点満点）。",
     "Score against the quality checklist (out of 100)."),
    ("any.csat", "顧客満足度", "Customer satisfaction", "%", "up", "avg", "customer", "outcome", 4, 80, "CSAT 80%以上",
     "依頼部門・エンドユーザーへのアンケートで「満足」と答えた割合。",
     "Share of the requesting team or end users answering “satisfied” in the survey."),
    ("any.roi", "ROI", "Return on investment (ROI)", "%", "up", "recompute", "financial", "outcome", 5, None, "",
     "（売上増加額 − 外注費用）÷ 外注費用 × 100。例：費用100万円で売上500万円増 → 400%。",
     "(Sales increase − outsourcing cost) ÷ outsourcing cost × 100. E.g. cost ¥1,000,000, sales up ¥5,000,000 → 400%."),
    ("any.sales_increase", "売上増加額（売上貢献度）", "Sales increase (contribution)", "円", "up", "sum", "financial", "outcome", 4, None, "",
     "外注の成果によって増えた売上。",
     "Sales gained through the outsourced work."),
    ("any.cost", "外注費用", "Outsourcing cost", "円", "down", "sum", "financial", "", 3, None, "",
     "当月に支払った外注費用（税抜）。",
     "Outsourcing fees paid this month (before tax)."),
    ("any.proposals", "改善提案件数", "Improvement proposals", "件", "up", "sum", "learning", "output", 2, None, "",
     "外注先から提出された改善提案の件数。",
     "Improvement proposals submitted by the vendor."),
    ("any.proposal_adoption", "提案の採用率", "Proposal adoption rate", "%", "up", "avg", "learning", "outcome", 3, None, "",
     "提出された改善提案のうち採用された割合。",
     "Share of the submitted improvement proposals that were adopted."),
    ("any.spec_change_days", "仕様変更対応までの平均日数", "Days to handle a change request", "日", "down", "avg", "process", "output", 3, None, "",
     "仕様変更の依頼から対応完了までの平均日数。",
     "Average days from a change request to its completion."),
    ("any.risk_review_rate", "リスクレビュー実施率", "Risk reviews held", "%", "up", "avg", "process", "output", 3, None, "",
     "予定したリスクレビューのうち実施した割合。",
     "Share of the planned risk reviews that were held."),
]

# fmt: on

KPI_FIELDS = (
    "code",
    "name_ja",
    "name_en",
    "unit",
    "direction",
    "time_aggregation",
    "perspective",
    "result_type",
    "importance",
    "benchmark",
    "benchmark_source",
    "definition_ja",
    "definition_en",
)
KPIS: list[dict[str, Any]] = [dict(zip(KPI_FIELDS, k, strict=True)) for k in _KPIS]

CALL_FUNNEL = "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
CV_FORMULA = "clicks * cvr / 100"
CLICKS_FORMULA = "impressions * ctr / 100"
ROI_FORMULA = "(sales_increase - cost) / cost * 100"
LEADS_FORMULA = "pv * lead_rate / 100"


def _funnel(stress: Iterable[str]) -> list[tuple]:
    """受注数 = 架電数 × 接続率 × アポ取得率 × 商談化率 × 受注率; `stress` gets importance 5."""
    stressed = set(stress)
    parts = ["calls", "connect_rate", "appt_rate", "meeting_rate", "win_rate"]
    return [("orders", "call.orders", "", {"rollup": "formula", "formula": CALL_FUNNEL})] + [
        (p, f"call.{p}", "orders", {"importance": 5} if p in stressed else {}) for p in parts
    ]


def _roi() -> list[tuple]:
    return [
        ("roi", "any.roi", "", {"rollup": "formula", "formula": ROI_FORMULA, "importance": 5}),
        ("sales_increase", "any.sales_increase", "roi", {}),
        ("cost", "any.cost", "roi", {}),
    ]


def _ads_cv(stress: str) -> list[tuple]:
    return [
        ("cv", "ads.cv", "", {"rollup": "formula", "formula": CV_FORMULA}),
        ("clicks", "ads.clicks", "cv", {"rollup": "formula", "formula": CLICKS_FORMULA}),
        ("impressions", "ads.impressions", "clicks", {}),
        ("ctr", "ads.ctr", "clicks", {"importance": 5} if stress == "ctr" else {}),
        ("cvr", "ads.cvr", "cv", {"importance": 5} if stress == "cvr" else {}),
    ]


def _one(code: str, kpi: str, importance: int | None = None) -> tuple:
    return (code, kpi, "", {"importance": importance} if importance else {})


# Each tree: code, outsourcing type, phase, Japanese name, English name, Japanese description,
# English description, nodes as (local code, catalogue KPI, parent's local code, options).
# fmt: off
_TREES: list[tuple] = [
    ("call.launch", "outbound_call", "launch", "アウトバウンドコール：立ち上げ", "Outbound calls: launch",
     "立ち上げ期は架電数と接続率で稼働を確かめる。受注数は架電から受注までのファネルで計算。",
     "At launch, check the operation with calls made and connection rate. Orders are computed through the funnel from calls to wins.",
     _funnel(["calls", "connect_rate"])),
    ("call.improvement", "outbound_call", "improvement", "アウトバウンドコール：改善", "Outbound calls: improvement",
     "改善期はアポ取得率、トーク分岐分析、リスト精度に注目する。",
     "In the improvement phase, focus on the appointment rate, talk-branch analysis and list accuracy.",
     [*_funnel(["appt_rate"]), _one("list_accuracy", "call.list_accuracy", 5),
      _one("script_reviews", "call.script_reviews", 4)]),
    ("call.expansion", "outbound_call", "expansion", "アウトバウンドコール：拡大・安定", "Outbound calls: expansion",
     "拡大・安定期は商談化率、継続率、1人当たりの費用対効果（CPA）を見る。",
     "In expansion, watch the meeting rate, retention and the cost-effectiveness per operator (CPA).",
     [*_funnel(["meeting_rate"]), _one("retention_rate", "call.retention_rate", 5),
      _one("cpa", "call.cpa", 5)]),
    ("ads.launch", "marketing", "launch", "広告運用：立ち上げ", "Marketing / ads: launch",
     "立ち上げ期はCTR（標準1〜2%）で広告の訴求を確かめる。CV数 = 表示回数 × CTR × CVR。",
     "At launch, check the ads' appeal with the CTR (1–2% is standard). Conversions = impressions × CTR × CVR.",
     _ads_cv("ctr")),
    ("ads.improvement", "marketing", "improvement", "広告運用：改善", "Marketing / ads: improvement",
     "改善期はCVRとCPAを改善する（例：CPAを20%改善）。",
     "In the improvement phase, improve the CVR and the CPA (e.g. CPA −20%).",
     [*_ads_cv("cvr"), _one("cpa", "ads.cpa", 5), _one("cpa_improvement", "ads.cpa_improvement", 4)]),
    ("ads.expansion", "marketing", "expansion", "広告運用：拡大・安定", "Marketing / ads: expansion",
     "拡大・安定期はROIとLTVで投資対効果を判断する。",
     "In expansion, judge the return with the ROI and the LTV against the CPA.",
     [*_roi(), _one("cpa", "ads.cpa", 4), _one("ltv", "ads.ltv", 4)]),
    ("creative.launch", "creative", "launch", "クリエイティブ制作：立ち上げ", "Creative: launch",
     "立ち上げ期は納期遵守率（95%/月）と進行スピードを見る。",
     "At launch, watch on-time delivery (95% a month) and the lead time.",
     [_one("ontime_rate", "creative.ontime_rate", 5), _one("lead_time", "any.lead_time", 5),
      _one("deliverables", "creative.deliverables")]),
    ("creative.improvement", "creative", "improvement", "クリエイティブ制作：改善", "Creative: improvement",
     "改善期は修正回数の削減と品質スコアで成果物の質を高める。",
     "In the improvement phase, raise quality: fewer revisions and a better quality score.",
     [_one("revision_reduction", "creative.revision_reduction", 5),
      _one("quality_score", "any.quality_score", 5), _one("ontime_rate", "creative.ontime_rate", 3),
      _one("proposals", "any.proposals", 3)]),
    ("creative.expansion", "creative", "expansion", "クリエイティブ制作：拡大・安定", "Creative: expansion",
     "拡大・安定期は閲覧数・滞在時間・ユーザー反応と、売上への貢献（ROI）を見る。",
     "In expansion, look at views, time on page, user reactions and the contribution to sales (ROI).",
     [*_roi(), _one("views", "creative.views", 4), _one("dwell_time", "creative.dwell_time", 3),
      _one("reactions", "creative.reactions", 4), _one("csat", "any.csat", 4)]),
    ("article.launch", "article", "launch", "記事制作：立ち上げ", "Article production: launch",
     "立ち上げ期は記事納品率（95%/月）と進行スピードを見る。",
     "At launch, watch the article on-time rate (95% a month) and the lead time.",
     [_one("ontime_rate", "article.ontime_rate", 5), _one("lead_time", "any.lead_time", 4),
      _one("articles", "article.articles", 3)]),
    ("article.improvement", "article", "improvement", "記事制作：改善", "Article production: improvement",
     "改善期は検索順位を上げる：上位10位以内の記事を毎月+5本。修正回数と品質スコアも見る。",
     "In the improvement phase, climb the search results: +5 top-10 articles a month; watch rework and quality too.",
     [_one("top10_growth", "article.top10_growth", 5), _one("search_rank", "article.search_rank", 4),
      _one("revision_reduction", "any.revision_reduction", 3),
      _one("quality_score", "any.quality_score", 4)]),
    ("article.expansion", "article", "expansion", "記事制作：拡大・安定", "Article production: expansion",
     "拡大・安定期はPVからのリード獲得と売上への貢献（ROI）を見る。リード = PV × リード転換率。",
     "In expansion, look at the leads won from page views and the contribution to sales (ROI). Leads = page views × conversion rate.",
     [("leads", "article.leads", "", {"rollup": "formula", "formula": LEADS_FORMULA, "importance": 5}),
      ("pv", "article.pv", "leads", {}), ("lead_rate", "article.lead_rate", "leads", {}), *_roi()]),
    ("dev.launch", "development", "launch", "システム開発：立ち上げ", "Development: launch",
     "立ち上げ期は工期遵守率と進行スピード、変更の多い案件ではリスクレビューを見る。",
     "At launch, watch schedule adherence and lead time, and risk reviews on projects that change often.",
     [_one("schedule_rate", "dev.schedule_rate", 5), _one("lead_time", "any.lead_time", 4),
      _one("risk_review_rate", "any.risk_review_rate", 3)]),
    ("dev.improvement", "development", "improvement", "システム開発：改善", "Development: improvement",
     "改善期は納品後のバグ発生率とバグ修正率、仕様変更への対応日数を見る。",
     "In the improvement phase, watch post-delivery bugs, the bug fix rate and the days to handle change requests.",
     [_one("bug_rate", "dev.bug_rate", 5), _one("bug_fix_rate", "dev.bug_fix_rate", 4),
      _one("spec_change_days", "any.spec_change_days", 3), _one("proposals", "any.proposals", 3)]),
    ("dev.expansion", "development", "expansion", "システム開発：拡大・安定", "Development: expansion",
     "拡大・安定期はユーザー満足度と投資対効果（ROI）、提案の採用率を見る。",
     "In expansion, watch user satisfaction, the return on investment and the adoption of proposals.",
     [_one("user_satisfaction", "dev.user_satisfaction", 5), *_roi(),
      _one("proposal_adoption", "any.proposal_adoption", 3)]),
    ("support.launch", "support", "launch", "サポート・運用：立ち上げ", "Support / operations: launch",
     "立ち上げ期は初回応答時間（24時間以内）と対応件数を見る。",
     "At launch, watch the first response time (within 24 h) and the tickets handled.",
     [_one("first_response", "support.first_response", 5), _one("tickets", "support.tickets", 3),
      _one("resolution_rate", "support.resolution_rate", 3)]),
    ("support.improvement", "support", "improvement", "サポート・運用：改善", "Support / operations: improvement",
     "改善期は解決率と平均処理時間、品質スコアを改善する。",
     "In the improvement phase, improve the resolution rate, handling time and quality score.",
     [_one("resolution_rate", "support.resolution_rate", 5), _one("handle_time", "support.handle_time", 4),
      _one("quality_score", "any.quality_score", 4), _one("proposals", "any.proposals", 3)]),
    ("support.expansion", "support", "expansion", "サポート・運用：拡大・安定", "Support / operations: expansion",
     "拡大・安定期は顧客満足度（CSAT 80%以上）と解決率、提案の採用率を見る。",
     "In expansion, watch customer satisfaction (CSAT ≥ 80%), the resolution rate and the adoption of proposals.",
     [_one("csat", "support.csat", 5), _one("resolution_rate", "support.resolution_rate", 4),
      _one("proposal_adoption", "any.proposal_adoption", 3)]),
]

# fmt: on

TREE_FIELDS = (
    "code",
    "outsourcing_type",
    "phase",
    "name_ja",
    "name_en",
    "description_ja",
    "description_en",
)
TREES: list[dict[str, Any]] = [
    {**dict(zip(TREE_FIELDS, t[:7], strict=True)), "position": i, "nodes": t[7]}
    for i, t in enumerate(_TREES)
]


def sync(kpi_model, tree_model, node_model, *, update: bool = False) -> dict[str, int]:
    """Load the built-in catalogue into the given models (real or historical ones).

    Missing entries are created. Existing built-in entries are left as they are (a manager may
    have adapted them in the admin) unless `update`, which resets them to the built-in data.
    Entries managers added themselves are never touched. Returns what was created/updated.
    """
    counts = {"kpis": 0, "trees": 0, "updated": 0}
    kpis = {}
    for data in KPIS:
        obj = kpi_model.objects.filter(code=data["code"]).first()
        if obj is None:
            obj = kpi_model.objects.create(**data, builtin=True)
            counts["kpis"] += 1
        elif update and obj.builtin:
            for name, value in data.items():
                setattr(obj, name, value)
            obj.save()
            counts["updated"] += 1
        kpis[data["code"]] = obj
    for data in TREES:
        fields = {k: v for k, v in data.items() if k != "nodes"}
        tree = tree_model.objects.filter(code=data["code"]).first()
        if tree is not None and not (update and tree.builtin):
            continue
        if tree is None:
            tree = tree_model.objects.create(**fields, builtin=True)
            counts["trees"] += 1
        else:
            for name, value in fields.items():
                setattr(tree, name, value)
            tree.save()
            node_model.objects.filter(template=tree).delete()
            counts["updated"] += 1
        node_model.objects.bulk_create(
            [
                node_model(
                    template=tree,
                    code=code,
                    kpi=kpis[kpi],
                    parent_code=parent,
                    rollup=options.get("rollup", "input"),
                    formula=options.get("formula", ""),
                    importance=options.get("importance"),
                    position=position,
                )
                for position, (code, kpi, parent, options) in enumerate(data["nodes"])
            ]
        )
    return counts
