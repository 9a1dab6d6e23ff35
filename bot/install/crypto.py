"""Tokens at rest: Fernet (AES-128-CBC with an HMAC-SHA256, from `cryptography`) under a MultiFernet, so
several keys can be in force while rotating. The first key encrypts; every key decrypts; `reseal` moves a
ciphertext to the first key (`ladderbot tokens reencrypt`)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenKeyError(Exception):
    """A stored token that none of the configured keys opens (a key was dropped too early)."""


def new_key() -> str:
    """A fresh key for SLACK_TOKEN_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Seals and opens Slack tokens with the configured keys, newest first."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("at least one key is needed")
        self._newest = Fernet(keys[0].encode("ascii"))
        self._all = MultiFernet([Fernet(key.encode("ascii")) for key in keys])

    def seal(self, token: str | None) -> str | None:
        return None if token is None else self._all.encrypt(token.encode()).decode("ascii")

    def open(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._all.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise TokenKeyError("a stored token cannot be decrypted with SLACK_TOKEN_ENCRYPTION_KEYS") from exc

    def reseal(self, sealed: str | None) -> str | None:
        """The same token sealed under the newest key (unchanged if it already is)."""
        if sealed is None or self.under_newest(sealed):
            return sealed
        try:
            return self._all.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise TokenKeyError("a stored token cannot be decrypted with SLACK_TOKEN_ENCRYPTION_KEYS") from exc

    def under_newest(self, sealed: str) -> bool:
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            return False
        return True
