"""The event categories of the programme report (table 7 for UTM, table 10 for EDR).

Every normalised event and every alert carries one of these keys; the monthly
report counts per key in this order, with the report's own Japanese labels.
The texts are what an SME owner reads: what happened, and what to do.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str
    kind: str  # "utm" or "edr"
    label_ja: str
    title_ja: str
    explanation_ja: str
    action_ja: str


UTM_CATEGORIES: tuple[Category, ...] = (
    Category("c2_callback", "utm", "C&C コールバック",
             "社内のパソコンが攻撃者のサーバーと通信しようとしました",
             "社内のパソコン（{host}）が、攻撃者が遠隔操作に使うサーバーへ接続しようとしたため、UTM が通信を止めました。"
             "ウイルスに感染している可能性があります。",
             "該当のパソコンをネットワークから外し、ウイルス対策ソフトでフルスキャンしてください。"
             "サポートが終わった古いパソコンの場合は買い替えをご検討ください。"),
    Category("ips", "utm", "IPS (侵入防御システム)",
             "外部からの攻撃通信を防ぎました",
             "{host} に対して、弱点を突こうとする攻撃の通信が届き、UTM が止めました。",
             "多くは自動で防げています。同じ攻撃が続く場合は、機器やソフトを最新の状態に更新してください。"),
    Category("web_reputation", "utm", "Web レピュテーション",
             "危険なホームページへのアクセスを止めました",
             "{host} から、危険と評価されているホームページへのアクセスがあり、UTM が止めました。",
             "心当たりがなければ、メールや広告のリンクを不用意に開かないよう社内に呼びかけてください。"),
    Category("malware", "utm", "ウィルス/不正プログラム",
             "ウイルスの侵入を止めました",
             "{host} が受け取ろうとしたファイルにウイルスが含まれていたため、UTM が止めました。",
             "該当のパソコンでウイルス対策ソフトのスキャンを実行してください。"),
    Category("spam", "utm", "スパムメール対策",
             "迷惑メールを止めました",
             "迷惑メール・不審なメールを UTM が検知しました。",
             "対応は不要です。届いたメールの添付ファイルやリンクは、送り主を確かめてから開いてください。"),
    Category("botnet", "utm", "ボットネット",
             "パソコンが乗っ取られている可能性があります",
             "{host} が、乗っ取られたパソコンの集団（ボットネット）の通信をしていました。",
             "該当のパソコンをネットワークから外し、お助け隊窓口へご連絡ください。"),
    Category("ransomware", "utm", "ランサムウェア",
             "ランサムウェア（身代金ウイルス）を止めました",
             "{host} で、データを暗号化して身代金を要求するウイルスの通信・ファイルを UTM が止めました。",
             "すぐに該当のパソコンをネットワークから外し、お助け隊窓口へご連絡ください。バックアップが取れているかもご確認ください。"),
    Category("suspicious_object", "utm", "不審オブジェクト",
             "不審な通信先・ファイルを検知しました",
             "{host} で、不審と登録されている通信先やファイルを検知しました。",
             "心当たりがなければお助け隊窓口へご相談ください。"),
    Category("sandbox", "utm", "仮想アナライザ",
             "不審なファイルを隔離環境で調べました",
             "{host} 宛てのファイルを隔離環境で動かしたところ、不審な動きをしました。",
             "ファイルの送り主に心当たりがなければ、開かずに削除してください。"),
    Category("machine_learning", "utm", "機械学習型検索",
             "AI が未知の不審ファイルを検知しました",
             "{host} 宛てのファイルを AI が不審と判定しました。",
             "ファイルの送り主に心当たりがなければ、開かずに削除してください。"),
)

EDR_CATEGORIES: tuple[Category, ...] = (
    Category("suspicious_process", "edr", "不審なプロセス起動",
             "パソコンで不審なプログラムが起動しました",
             "パソコン（{host}）で、攻撃に使われることがあるプログラムの起動を検知しました。",
             "心当たりがなければ、パソコンを使っている方に確認し、お助け隊窓口へご相談ください。"),
    Category("network", "edr", "不審な通信",
             "パソコンが不審な相手と通信しました",
             "パソコン（{host}）が、不審な通信先へ接続しました。",
             "心当たりがなければ、パソコンをネットワークから外してお助け隊窓口へご連絡ください。"),
    Category("file_creation", "edr", "不審なファイル生成",
             "パソコンに不審なファイルが作られました",
             "パソコン（{host}）で、攻撃によく使われる場所・種類のファイルが作られました。",
             "心当たりがなければ、ウイルス対策ソフトでスキャンしてください。"),
    Category("command_execution", "edr", "不審なコマンド実行",
             "パソコンで不審な命令（コマンド）が実行されました",
             "パソコン（{host}）で、攻撃者がよく使う形の命令が実行されました。",
             "パソコンを使っている方に心当たりを確認してください。心当たりがなければお助け隊窓口へご連絡ください。"),
    Category("api_call", "edr", "不審なAPI実行",
             "プログラムが不審な動きをしました",
             "パソコン（{host}）で、他のプログラムを操作するなど、不審な動きを検知しました。",
             "心当たりがなければお助け隊窓口へご相談ください。"),
    Category("tool_execution", "edr", "不審なツール実行",
             "攻撃用のツールが実行されました",
             "パソコン（{host}）で、パスワードを盗むなど攻撃に使われるツールの実行を検知しました。",
             "すぐにパソコンをネットワークから外し、お助け隊窓口へご連絡ください。"),
    Category("file_operation", "edr", "不審なファイル操作",
             "ファイルが不審な方法で操作されました",
             "パソコン（{host}）で、ファイルの大量変更や削除など不審な操作を検知しました。",
             "心当たりがなければ、パソコンをネットワークから外してお助け隊窓口へご連絡ください。"),
    Category("registry", "edr", "不審なレジストリ登録",
             "パソコンの設定が不審に書き換えられました",
             "パソコン（{host}）で、Windows の設定（レジストリ）が不審に書き換えられました。",
             "心当たりがなければお助け隊窓口へご相談ください。"),
    Category("file_read", "edr", "不審なファイル読み込み",
             "大切な情報が読み取られた可能性があります",
             "パソコン（{host}）で、パスワードなどの大切な情報が入ったファイルへの不審な読み取りを検知しました。",
             "パスワードの変更をご検討のうえ、お助け隊窓口へご相談ください。"),
    Category("resident_program", "edr", "不審な常駐プログラム登録",
             "パソコン起動時に動くプログラムが追加されました",
             "パソコン（{host}）で、起動のたびに自動で動くプログラムが登録されました。",
             "心当たりのないプログラムであれば、お助け隊窓口へご相談ください。"),
)

ALL: dict[str, Category] = {c.key: c for c in (*UTM_CATEGORIES, *EDR_CATEGORIES)}


def category(key: str) -> Category:
    return ALL.get(key) or ALL["suspicious_object" if key.startswith("utm") else "suspicious_process"]


# Sigma logsource categories → the report's EDR categories, for third-party
# rules that carry no Otasuke category tag.
SIGMA_LOGSOURCE_TO_EDR: dict[str, str] = {
    "process_creation": "suspicious_process",
    "network_connection": "network",
    "dns_query": "network",
    "dns": "network",
    "firewall": "network",
    "file_event": "file_creation",
    "file_change": "file_operation",
    "file_delete": "file_operation",
    "file_rename": "file_operation",
    "file_access": "file_read",
    "registry_add": "registry",
    "registry_set": "registry",
    "registry_event": "registry",
    "registry_delete": "registry",
    "registry_rename": "registry",
    "process_access": "api_call",
    "create_remote_thread": "api_call",
    "image_load": "api_call",
    "driver_load": "resident_program",
    "create_stream_hash": "file_creation",
    "pipe_created": "api_call",
    "wmi_event": "resident_program",
    "ps_script": "command_execution",
    "ps_module": "command_execution",
    "ps_classic_start": "command_execution",
}

SEVERITIES: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")
SEVERITY_JA: dict[str, str] = {
    "informational": "情報", "low": "低", "medium": "中", "high": "高", "critical": "緊急",
}


def shift_severity(level: str, steps: int) -> str:
    i = SEVERITIES.index(level) if level in SEVERITIES else 2
    return SEVERITIES[max(0, min(len(SEVERITIES) - 1, i + steps))]
