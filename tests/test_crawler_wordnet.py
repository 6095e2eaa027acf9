"""The offline WordNet 3.0 reader against Debian's /usr/share/wordnet."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import WordNetUnavailable
from crawler.wordnet import WordNet, lemma_key, wnid_offset

WORDNET_DIR = Path("/usr/share/wordnet")
pytestmark = pytest.mark.skipif(
    not WordNet.available(WORDNET_DIR), reason="Debian package wordnet-base is not installed"
)


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet(WORDNET_DIR)


def test_name_resolves_to_its_wnid(wordnet: WordNet) -> None:
    assert wordnet.lookup("ice-cream cake") == ["n07631926"]
    assert wordnet.lookup("  Icebox   Cake ") == ["n07631926"]


def test_every_sense_of_a_name_most_frequent_first(wordnet: WordNet) -> None:
    # cake: a block (of soap), a small flat mass (of chopped food), the baked good
    assert wordnet.lookup("cake") == ["n02937469", "n07663899", "n07628870"]


def test_unknown_name_resolves_to_nothing(wordnet: WordNet) -> None:
    assert wordnet.lookup("flibbertigibbet cake") == []
    assert wordnet.lookup("") == []


def test_synset_words_gloss_and_parent(wordnet: WordNet) -> None:
    synset = wordnet.synset("n07631926")
    assert synset.words == ("ice-cream cake", "icebox cake")
    assert synset.gloss == "ice cream molded to look like a cake"
    assert synset.parent == "n07611358"  # frozen dessert, not cake
    assert synset.hyponyms == ()


def test_hyponym_walk_covers_the_whole_cake_tree_once(wordnet: WordNet) -> None:
    walked = list(wordnet.walk_hyponyms("n07628870"))
    wnids = [s.wnid for s in walked]
    assert wnids[0] == "n07628870"
    assert len(wnids) == len(set(wnids)) == 102
    # grandchildren too: devil's food is under chocolate cake, under cake
    devils = next(s for s in walked if s.wnid == "n07631109")
    assert devils.parent == "n07630294"
    assert "n07631926" not in wnids  # ice-cream cake is a frozen dessert in WordNet


def test_leaf_walk_is_just_the_leaf(wordnet: WordNet) -> None:
    assert [s.wnid for s in wordnet.walk_hyponyms("n07631926")] == ["n07631926"]


def test_wnid_that_is_no_synset_start(wordnet: WordNet) -> None:
    with pytest.raises(KeyError):
        wordnet.synset("n07631927")  # inside a line, not at its start


def test_missing_wordnet_names_the_setting_and_package(tmp_path: Path) -> None:
    with pytest.raises(WordNetUnavailable, match="wordnet-base.*WORDNET_DIR"):
        WordNet(tmp_path)


def test_helpers() -> None:
    assert lemma_key("Ice-cream  Cake") == "ice-cream_cake"
    assert wnid_offset("n07631926") == 7631926
    with pytest.raises(ValueError):
        wnid_offset("07631926")
