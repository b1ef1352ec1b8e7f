import harmony_vocab


def test_vocabs_listed():
    assert harmony_vocab.VOCABS == ("o200k_base", "cl100k_base")
