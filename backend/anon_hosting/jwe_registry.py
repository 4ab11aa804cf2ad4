"""jwcrypto's JWE header registry, deep-copied as a plain copy of the dict, which most of a token operation was.

Contract: after ``install()``, every ``jwe.JWE`` object still gets a registry dict of its own with the
same entries (tests/test_tokens.py checks both); the entries are namedtuples of strings, booleans and
functions, which cannot change, so a copy of the dict is a deep copy. The three token operations
of a round trip cost 0.87 M instructions with it and 2.21 M without (docs/performance.md).

jwcrypto internals it relies on (not documented API):
- ``jwcrypto.jwe.JWEHeaderRegistry``, the module global that ``JWE.__init__`` reads;
- ``jwcrypto.common.JWSEHeaderRegistry(init_registry)``, which ``copy.deepcopy``-s it (so ``__deepcopy__`` is used).
"""

from jwcrypto import jwe


class HeaderRegistry(dict):
    def __deepcopy__(self, memo):
        return dict(self)


def install() -> None:
    if not isinstance(jwe.JWEHeaderRegistry, HeaderRegistry):
        jwe.JWEHeaderRegistry = HeaderRegistry(jwe.JWEHeaderRegistry)
