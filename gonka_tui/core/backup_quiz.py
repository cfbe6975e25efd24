"""The backup quiz after a new recovery phrase: pick the right word at a few positions.

Decoys mix other words of the same phrase (the ones a glance at the screen would suggest)
with random BIP39 words, so guessing does not pass; attempts are limited, and each retry
asks about new positions so that wrong answers teach nothing.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from gonka_tui.core.keys import bip39_wordlist, split_words

QUESTIONS = 3
CHOICES = 5
ATTEMPTS = 3


class QuizState(enum.Enum):
    ASKING = "asking"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class Question:
    position: int  # 1-based
    choices: tuple[str, ...]


class BackupQuiz:
    def __init__(self, mnemonic: str, questions: int = QUESTIONS, choices: int = CHOICES,
                 attempts: int = ATTEMPTS, rng: secrets.SystemRandom | None = None) -> None:
        self._words = split_words(mnemonic)
        if questions > len(self._words):
            raise ValueError("more questions than words")
        self._n_questions = questions
        self._n_choices = choices
        self._rng = rng or secrets.SystemRandom()
        self.attempts_left = attempts
        self.state = QuizState.ASKING
        self.questions: tuple[Question, ...] = ()
        self._new_questions()

    def _new_questions(self) -> None:
        positions = sorted(self._rng.sample(range(len(self._words)), self._n_questions))
        self.questions = tuple(Question(p + 1, self._choices_for(self._words[p])) for p in positions)

    def _choices_for(self, word: str) -> tuple[str, ...]:
        own = sorted({w for w in self._words if w != word})
        decoys: set[str] = set(self._rng.sample(own, min(len(own), (self._n_choices - 1) // 2)))
        wordlist = bip39_wordlist()
        while len(decoys) < self._n_choices - 1:
            candidate = self._rng.choice(wordlist)
            if candidate != word:
                decoys.add(candidate)
        choices = [word, *decoys]
        self._rng.shuffle(choices)
        return tuple(choices)

    def answer(self, answers: dict[int, str]) -> QuizState:
        """Check answers {position: word}; a wrong set costs an attempt and changes the questions."""
        if self.state is not QuizState.ASKING:
            return self.state
        if all(answers.get(q.position) == self._words[q.position - 1] for q in self.questions):
            self.state = QuizState.PASSED
            return self.state
        self.attempts_left -= 1
        if self.attempts_left <= 0:
            self.state = QuizState.FAILED
        else:
            self._new_questions()
        return self.state
