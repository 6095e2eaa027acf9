"""The WordNet 3.0 hyponym tree of cake (n07628870), hard-coded so the mirror needs no WordNet."""

from __future__ import annotations

from functools import cache

CAKE = "n07628870"
ICE_CREAM_CAKE = "n07631926"

# (wnid, parent wnid, words), in WordNet's depth-first order; generated from
# /usr/share/wordnet/data.noun (hyponym pointers "~" of 07628870, recursively).
CAKE_TREE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("n07628870", "n07622061", ("cake",)),
    ("n07629697", "n07628870", ("applesauce cake",)),
    ("n07629797", "n07628870", ("baba",)),
    ("n07629898", "n07629797", ("baba au rhum", "rum baba")),
    ("n07629988", "n07628870", ("birthday cake",)),
    ("n07630089", "n07628870", ("cheesecake",)),
    ("n07630220", "n07628870", ("chiffon cake",)),
    ("n07630294", "n07628870", ("chocolate cake",)),
    ("n07631109", "n07630294", ("devil's food", "devil's food cake")),
    ("n07630398", "n07628870", ("coconut cake",)),
    ("n07630512", "n07628870", ("coffeecake", "coffee cake")),
    ("n07630667", "n07630512", ("babka",)),
    ("n07691424", "n07630512", ("coffee ring",)),
    ("n07630782", "n07628870", ("crumb cake",)),
    ("n07630909", "n07628870", ("crumpet",)),
    ("n07631023", "n07628870", ("cupcake",)),
    ("n07631212", "n07628870", ("Eccles cake",)),
    ("n07631350", "n07628870", ("fruitcake",)),
    ("n07631511", "n07631350", ("Christmas cake",)),
    ("n07631672", "n07631350", ("simnel",)),
    ("n07631834", "n07628870", ("gateau",)),
    ("n07632037", "n07628870", ("sponge cake",)),
    ("n07632240", "n07632037", ("angel cake", "angel food cake")),
    ("n07632357", "n07632037", ("jellyroll", "Swiss roll")),
    ("n07632515", "n07632037", ("Madeira cake", "Madeira sponge")),
    ("n07632679", "n07632037", ("Twinkie",)),
    ("n07632802", "n07628870", ("wedding cake", "bridecake")),
    ("n07632980", "n07628870", ("white cake",)),
    ("n07633064", "n07628870", ("spice cake",)),
    ("n07633146", "n07628870", ("gingerbread",)),
    ("n07633229", "n07628870", ("pound cake",)),
    ("n07633369", "n07628870", ("layer cake",)),
    ("n07633511", "n07628870", ("torte",)),
    ("n07633640", "n07628870", ("petit four",)),
    ("n07633743", "n07628870", ("prune cake",)),
    ("n07633861", "n07628870", ("jumble", "jumbal")),
    ("n07633960", "n07628870", ("savarin",)),
    ("n07634048", "n07628870", ("Boston cream pie",)),
    ("n07634141", "n07628870", ("upside-down cake", "skillet cake")),
    ("n07634306", "n07628870", ("honey cake",)),
    ("n07634406", "n07628870", ("marble cake",)),
    ("n07634514", "n07628870", ("genoise",)),
    ("n07634605", "n07628870", ("seedcake", "seed cake")),
    ("n07634751", "n07628870", ("teacake",)),
    ("n07635044", "n07634751", ("Sally Lunn",)),
    ("n07635155", "n07628870", ("cookie", "cooky", "biscuit")),
    ("n07634901", "n07635155", ("teacake", "tea biscuit")),
    ("n07635746", "n07635155", ("dog biscuit",)),
    ("n07635827", "n07635155", ("butter cookie",)),
    ("n07636020", "n07635827", ("shortbread", "shortbread cookie")),
    ("n07635934", "n07635155", ("spice cookie",)),
    ("n07636126", "n07635155", ("almond cookie", "almond crescent")),
    ("n07636271", "n07635155", ("brownie",)),
    ("n07636384", "n07635155", ("gingersnap", "ginger snap", "snap", "ginger nut")),
    ("n07695097", "n07636384", ("brandysnap",)),
    ("n07636534", "n07635155", ("macaroon",)),
    ("n07636669", "n07636534", ("ratafia", "ratafia biscuit")),
    ("n07636779", "n07636534", ("coconut macaroon",)),
    ("n07636869", "n07635155", ("kiss",)),
    ("n07636957", "n07635155", ("ladyfinger",)),
    ("n07637045", "n07635155", ("anise cookie",)),
    ("n07637178", "n07635155", ("molasses cookie",)),
    ("n07637292", "n07635155", ("oreo", "oreo cookie")),
    ("n07637398", "n07635155", ("raisin-nut cookie",)),
    ("n07637508", "n07635155", ("refrigerator cookie",)),
    ("n07637652", "n07635155", ("raisin cookie",)),
    ("n07637737", "n07635155", ("fruit bar",)),
    ("n07637949", "n07637737", ("apricot bar",)),
    ("n07638039", "n07637737", ("date bar",)),
    ("n07638128", "n07635155", ("sugar cookie",)),
    ("n07638226", "n07635155", ("oatmeal cookie",)),
    ("n07638317", "n07635155", ("chocolate chip cookie", "Toll House cookie")),
    ("n07638439", "n07635155", ("fortune cookie",)),
    ("n07638574", "n07635155", ("gingerbread man",)),
    ("n07695012", "n07635155", ("wafer",)),
    ("n07705137", "n07635155", ("granola bar",)),
    ("n07638676", "n07628870", ("friedcake",)),
    ("n07638898", "n07638676", ("doughboy",)),
    ("n07639069", "n07638676", ("doughnut", "donut", "sinker")),
    ("n07639188", "n07639069", ("raised doughnut",)),
    ("n07639344", "n07639188", ("Berlin doughnut", "bismark", "jelly doughnut")),
    ("n07639475", "n07639188", ("fastnacht",)),
    ("n07639577", "n07638676", ("cruller", "twister")),
    ("n07639716", "n07638676", ("French fritter", "beignet")),
    ("n07639855", "n07638676", ("fritter",)),
    ("n07640014", "n07639855", ("apple fritter",)),
    ("n07640105", "n07639855", ("corn fritter",)),
    (
        "n07640203",
        "n07628870",
        (
            "pancake",
            "battercake",
            "flannel cake",
            "flannel-cake",
            "flapcake",
            "flapjack",
            "griddlecake",
            "hotcake",
            "hot cake",
        ),
    ),
    ("n07640653", "n07640203", ("buckwheat cake",)),
    ("n07640749", "n07640203", ("buttermilk pancake",)),
    ("n07640844", "n07640203", ("blini", "bliny")),
    ("n07640991", "n07640203", ("blintz", "blintze")),
    ("n07641138", "n07640203", ("crape", "crepe", "French pancake")),
    ("n07641256", "n07641138", ("crepe Suzette",)),
    ("n07641380", "n07640203", ("pfannkuchen", "german pancake")),
    ("n07641581", "n07640203", ("potato pancake", "latke")),
    ("n07880583", "n07640203", ("tortilla",)),
    ("n07881310", "n07880583", ("tostada",)),
    ("n07641699", "n07628870", ("waffle",)),
    ("n07641807", "n07641699", ("Belgian waffle",)),
    ("n07642070", "n07628870", ("rock cake",)),
    ("n07642182", "n07628870", ("Victoria sandwich", "Victoria sponge")),
)

# Synsets outside the cake tree. Note: in WordNet 3.0 ice-cream cake is a frozen dessert
# (hypernym n07611358), not a hyponym of cake. Tench and wok are listed in /fall11_urls.txt
# so that filtering by wnid matters.
OTHER_SYNSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (ICE_CREAM_CAKE, "n07611358", ("ice-cream cake", "icebox cake")),
    ("n01440764", "n01439121", ("tench", "Tinca tinca")),
    ("n04596742", "n03880531", ("wok",)),
)


@cache
def _table() -> dict[str, tuple[str, tuple[str, ...]]]:
    return {wnid: (parent, words) for wnid, parent, words in CAKE_TREE + OTHER_SYNSETS}


@cache
def _children() -> dict[str, tuple[str, ...]]:
    kids: dict[str, list[str]] = {}
    for wnid, parent, _ in CAKE_TREE:
        kids.setdefault(parent, []).append(wnid)
    return {parent: tuple(found) for parent, found in kids.items()}


def known(wnid: str) -> bool:
    """Whether the mirror knows ``wnid`` (the cake tree or one of the other listed synsets)."""
    return wnid in _table()


def words(wnid: str) -> tuple[str, ...]:
    """The synset's words (lemmas), e.g. ``("ice-cream cake", "icebox cake")``."""
    return _table()[wnid][1]


def parent(wnid: str) -> str:
    """The synset's hypernym in WordNet 3.0."""
    return _table()[wnid][0]


def hyponyms(wnid: str, full: bool = False) -> list[str]:
    """Direct hyponyms of ``wnid`` or, with ``full``, its whole subtree depth-first (no root)."""
    direct = list(_children().get(wnid, ()))
    if not full:
        return direct
    found: list[str] = []
    for child in direct:
        found.append(child)
        found.extend(hyponyms(child, full=True))
    return found


def cake_synsets() -> list[str]:
    """Every synset of the cake tree, cake itself first."""
    return [wnid for wnid, _, _ in CAKE_TREE]
