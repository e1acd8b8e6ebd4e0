"""The short quizzes of the pre- and post-learning pages, and their scoring."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


QUESTIONS: tuple[Question, ...] = (
    Question(
        id="q1",
        text="「24時間以内にパスワードを更新してください」というメールが届きました。まずどうしますか？",
        choices=(
            "メールのリンクからすぐに更新する",
            "リンクは使わず、いつもの画面や社内の担当者に確認する",
            "同僚に転送して意見を聞く",
        ),
        answer=1,
        explanation="急がせるメールは攻撃の典型です。リンクは使わず、いつもの方法で確認しましょう。",
    ),
    Question(
        id="q2",
        text="怪しいメールのリンクを開いてしまいました。次にすることは？",
        choices=(
            "誰にも言わずにメールを削除する",
            "しばらく様子を見る",
            "すぐに社内の担当者（管理者）に報告する",
        ),
        answer=2,
        explanation="開いてしまっても、すぐに報告すれば被害を小さくできます。報告は恥ずかしいことではありません。",
    ),
    Question(
        id="q3",
        text="送信者の名前が取引先でした。安全と言えますか？",
        choices=(
            "名前が正しければ安全",
            "名前は簡単に偽れるので、アドレスや内容も確かめる",
            "添付ファイルがなければ安全",
        ),
        answer=1,
        explanation="表示される名前は誰でも自由に設定できます。アドレスや内容に不自然な点がないか確かめましょう。",
    ),
)


@dataclass(frozen=True)
class QuizResult:
    score: int
    questions: int
    unanswered: tuple[str, ...]
    wrong: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.unanswered


def score(answers: dict[str, str]) -> QuizResult:
    """Score submitted answers (question id → choice index as text); unknown ids are ignored."""
    right = 0
    unanswered: list[str] = []
    wrong: list[str] = []
    for q in QUESTIONS:
        value = answers.get(q.id)
        if value is None or value == "":
            unanswered.append(q.id)
            continue
        if value.isdigit() and int(value) == q.answer:
            right += 1
        else:
            wrong.append(q.id)
    return QuizResult(right, len(QUESTIONS), tuple(unanswered), tuple(wrong))
