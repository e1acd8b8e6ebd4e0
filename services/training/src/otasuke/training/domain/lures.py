"""The built-in training mails (lures) and what gives each one away.

Bodies live in ``templates/lures/<id>.txt`` and ``<id>.html`` (Jinja2, with
``name``, ``link``, ``company`` and, in HTML, ``pixel``). ``clues`` feed the
learning page: the points a careful reader could have noticed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lure:
    id: str
    name: str
    subject: str
    sender_name: str
    sender_local: str
    clues: tuple[str, ...]
    has_form: bool = False
    """Clicking shows a fake form (e.g. a login) before the learning page."""
    form_title: str = ""


LURES: dict[str, Lure] = {
    lure.id: lure
    for lure in (
        Lure(
            id="delivery-notice",
            name="宅配便の不在通知",
            subject="【不在通知】お荷物のお届けにあがりましたが、ご不在でした",
            sender_name="宅配便 配達センター",
            sender_local="delivery-center",
            clues=(
                "送信元のアドレスが、実在する宅配会社のドメインではありませんでした。",
                "伝票番号や品名など、本物の通知にある具体的な情報がありませんでした。",
                "「本日中に」と急がせて、考える時間を与えないようにしていました。",
            ),
        ),
        Lure(
            id="invoice",
            name="請求書の確認依頼",
            subject="【ご確認】請求書送付のご案内（今月分）",
            sender_name="経理部 請求担当",
            sender_local="invoice",
            clues=(
                "取引先の担当者名がなく、「経理部 請求担当」とだけ書かれていました。",
                "いつもと違う方法（リンク先で確認）で請求書を見るよう求めていました。",
                "リンクの表示と、実際の行き先のアドレスが違っていました。",
            ),
        ),
        Lure(
            id="password-expiry",
            name="パスワードの有効期限切れ",
            subject="【重要】パスワードの有効期限が近づいています",
            sender_name="システム管理者",
            sender_local="it-support",
            clues=(
                "社内のシステム管理者なのに、社外のアドレスから届いていました。",
                "「24時間以内に更新しないと使えなくなる」と不安をあおっていました。",
                "メールのリンクからパスワードを入力させようとしていました。正しい更新はいつもの画面から行います。",
            ),
            has_form=True,
            form_title="パスワードの更新",
        ),
        Lure(
            id="shared-document",
            name="共有ファイルのお知らせ",
            subject="資料を共有しました：見積書_最新版.xlsx",
            sender_name="ファイル共有サービス",
            sender_local="share-notice",
            clues=(
                "誰が共有したのか、名前がはっきり書かれていませんでした。",
                "心当たりのない「見積書」で、中身を見たくなるようにしていました。",
                "ファイルを開くためにログインを求める画面へ誘導していました。",
            ),
            has_form=True,
            form_title="ファイルを開くにはログインしてください",
        ),
    )
}


def get_lure(template_id: str) -> Lure | None:
    return LURES.get(template_id)
