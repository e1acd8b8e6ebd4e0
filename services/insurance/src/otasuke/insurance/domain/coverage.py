"""What a company's cover pays for, in plain Japanese (「保険でどこまでカバーされますか」)."""
from __future__ import annotations

import msgspec

from otasuke.events.schemas.insurance import CoverLimit


class Example(msgspec.Struct, frozen=True, kw_only=True):
    title_ja: str
    who_ja: str
    what_ja: str
    paid_ja: str
    covers: list[str]


class Category(msgspec.Struct, frozen=True, kw_only=True):
    label_ja: str
    covers: list[str]
    note_ja: str = ""


class CoverageTexts(msgspec.Struct, frozen=True, kw_only=True):
    not_covered: list[str]
    examples: list[Example]
    categories: dict[str, Category]


class ActivePolicy(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str
    tier: str
    ends_on: str
    aggregate_limit_yen: int
    covers: list[CoverLimit]


class CoveredItem(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label_ja: str
    limit_yen: int
    floor_ja: str
    policy_id: str


class ExampleAnswer(msgspec.Struct, frozen=True, kw_only=True):
    title_ja: str
    who_ja: str
    what_ja: str
    paid_ja: str
    covered_by_you_ja: str


class CoverageAnswer(msgspec.Struct, frozen=True, kw_only=True):
    company_id: str
    has_cover: bool
    answer_ja: str
    covered: list[CoveredItem]
    not_covered: list[str]
    examples: list[ExampleAnswer]
    incident_ja: str | None = None
    can_claim: bool = False


FLOOR_JA = {"bundled": "1階部分（サービスに付いている保険）", "top_up": "2階部分（上乗せの保険）"}


def man_yen(yen: int) -> str:
    """Amounts as an owner says them: 50万円, 3,000万円, 1億円."""
    if yen >= 100_000_000 and yen % 100_000_000 == 0:
        return f"{yen // 100_000_000:,}億円"
    if yen >= 10_000 and yen % 10_000 == 0:
        return f"{yen // 10_000:,}万円"
    return f"{yen:,}円"


def explain(
    texts: CoverageTexts, *, company_id: str, policies: list[ActivePolicy], category: str | None = None
) -> CoverageAnswer:
    covered = [
        CoveredItem(key=c.key, label_ja=c.label_ja, limit_yen=c.limit_yen, floor_ja=FLOOR_JA[p.tier], policy_id=p.policy_id)
        for p in sorted(policies, key=lambda p: (p.tier != "bundled", p.policy_id))
        for c in p.covers
    ]
    keys = {c.key for c in covered}
    examples = []
    for ex in texts.examples:
        hits = [c for c in covered if c.key in ex.covers]
        if hits:
            seen: dict[str, CoveredItem] = {}
            for c in hits:
                seen.setdefault(c.key, c)
            said = "、".join(f"{c.label_ja.split('（')[0]}（{man_yen(c.limit_yen)}まで）" for c in seen.values())
            verdict = f"いまの保険では、{said}が出ます。"
        else:
            verdict = "いまの保険では対象外です。2階部分（上乗せ）を付けると備えられます。"
        examples.append(ExampleAnswer(title_ja=ex.title_ja, who_ja=ex.who_ja, what_ja=ex.what_ja, paid_ja=ex.paid_ja, covered_by_you_ja=verdict))

    if not policies:
        answer = (
            "いま有効なサイバー保険はありません。UTMかEDRのサービスを始めると、"
            "事故の初動対応の費用をまかなう保険（1階部分）が自動で付きます。"
        )
    else:
        bundled_total = sum(p.aggregate_limit_yen for p in policies if p.tier == "bundled")
        top = [p for p in policies if p.tier == "top_up"]
        parts = []
        if bundled_total:
            parts.append(
                f"サービスに付いている保険で、事故のときの原因調査・復旧・お知らせの費用が合計{man_yen(max(p.aggregate_limit_yen for p in policies if p.tier == 'bundled'))}まで出ます"
            )
        if top:
            t = max(top, key=lambda p: p.aggregate_limit_yen)
            parts.append(f"上乗せの保険で、取引先への賠償や休業の損失も合計{man_yen(t.aggregate_limit_yen)}まで備えています")
        else:
            parts.append("取引先やお客様への賠償、休業の損失は、いまは対象外です（上乗せの保険で備えられます）")
        answer = "。".join(parts) + "。"

    incident = None
    if category:
        cat = texts.categories.get(category)
        if cat is None:
            incident = "この種類の事故については、担当者が保険会社に確認してご連絡します。"
        else:
            applicable = [c for c in covered if c.key in cat.covers]
            if applicable:
                names = "、".join(dict.fromkeys(c.label_ja.split("（")[0] for c in applicable))
                incident = f"{cat.label_ja}の場合、{names}が対象です。"
            else:
                incident = f"{cat.label_ja}の場合、いまの保険では対象になる項目がありません。"
            if cat.note_ja:
                incident += cat.note_ja
    return CoverageAnswer(
        company_id=company_id,
        has_cover=bool(policies),
        answer_ja=answer,
        covered=covered,
        not_covered=list(texts.not_covered),
        examples=examples,
        incident_ja=incident,
        can_claim=bool(policies),
    )
