"""General word tables the name parser reads: personal titles and roles, name suffixes, the
common English short forms of given names, corporate designators, function words, the other
names of countries and of the U.S. states, and the label names of the common NER schemes that
mean a person, an organisation or a place.

Source and licence: written for this package, MIT like the rest of the package, from general
knowledge of English (and a few common European) name conventions; the U.S. state
abbreviations are the USPS two-letter codes and the traditional abbreviations the AP Stylebook
uses, and the country names are the common English names (facts, not any dataset's text). They
are general resources, not the names of any dataset. Every entry is written as `names.name_key`
leaves it (NFKC, case-folded) and without full stops, since the parser drops full stops before it
looks a word up.
"""
from typing import Dict, FrozenSet, Tuple

# Words written before a name that say what a person is, not who: "President Kennedy",
# "Gov. Cuomo", "Mr. Smith", "Sen. Edward M. Kennedy".
TITLES: FrozenSet[str] = frozenset(
    """
    mr mrs ms miss mx dr prof professor sir dame lord lady madam madame mme mlle monsieur
    herr frau senor senora signor signora
    president vice pres premier chancellor prime minister secretary sec gov governor
    lt col colonel gen general maj major capt captain cmdr commander adm admiral sgt sergeant
    cpl corporal pvt private lieut lieutenant marshal
    sen senator rep representative congressman congresswoman assemblyman councilman
    councilwoman alderman mayor judge justice attorney atty ambassador amb commissioner
    rev reverend fr father sr sister bro brother rabbi imam bishop archbishop cardinal pope
    saint msgr monsignor pastor deacon sheik sheikh ayatollah
    king queen prince princess duke duchess count countess baron baroness emperor empress
    chairman chairwoman chief director officer agent detective det inspector insp
    sheriff deputy coach
    actor actress writer author novelist poet singer composer musician artist painter economist
    spokesman spokeswoman spokesperson lawyer lobbyist police trooper pilot astronaut physician
    scientist professor reporter correspondent columnist editor publisher founder
    """.split()
)

# Words written after a name that tell apart relatives or ranks: "John Kennedy Jr.",
# "Henry Ford II". Two names that differ in these are different people.
NAME_SUFFIXES: FrozenSet[str] = frozenset("jr jnr junior sr snr senior ii iii iv v vi esq phd md".split())

# Common English short forms of given names: each line is one given name and its short forms
# ("Jack Kennedy" may be "John F. Kennedy"). A short form may stand for several names.
_NICKNAME_LINES = """
    john jack johnny jon
    robert bob bobby rob robbie bert
    william bill billy will willy willie
    edward ted teddy ed eddie ned
    theodore ted teddy theo
    james jim jimmy jamie
    richard dick rick ricky rich richie
    thomas tom tommy
    michael mike mickey mick
    daniel dan danny
    david dave davy
    joseph joe joey
    charles charlie chuck chas
    albert al bert
    alfred al alf fred
    andrew andy drew
    anthony tony
    benjamin ben benny
    elizabeth liz lizzie beth betty betsy eliza libby
    katherine kate kathy katie kay
    catherine cathy kate katie
    margaret peggy maggie meg madge
    susan sue susie
    nicholas nick nicky
    patrick pat paddy
    patricia pat patty trish
    peter pete
    samuel sam sammy
    stephen steve stevie
    steven steve stevie
    frederick fred freddie freddy
    francis frank frankie
    eugene gene
    gerald jerry gerry
    jerome jerry
    lawrence larry
    henry hank harry
    harold harry hal
    ronald ron ronnie
    donald don donnie
    kenneth ken kenny
    gregory greg
    matthew matt
    christopher chris kit
    timothy tim timmy
    jeffrey jeff
    douglas doug
    walter walt wally
    raymond ray
    philip phil
    vincent vince vinny
    alexander alex sandy
    leonard len lenny leo
    louis lou
    samantha sam
    rebecca becky
    deborah deb debbie
    jennifer jenny jen
    """
NICKNAMES: Dict[str, FrozenSet[str]] = {}
for _line in _NICKNAME_LINES.strip().splitlines():
    _name, *_short = _line.split()
    for _form in (_name, *_short):
        NICKNAMES[_form] = NICKNAMES.get(_form, frozenset()) | {_name}

# Words at the end of an organisation's name that say its legal form, not which one it is:
# "Exxon Corp." and "Exxon" are one company.
CORPORATE_DESIGNATORS: FrozenSet[str] = frozenset(
    """
    inc incorporated corp corporation co company cos companies ltd limited llc llp lp plc
    ag gmbh sa nv bv spa srl ab as asa oy kk pty pte bhd holdings group
    """.split()
)

# Words that carry no identity and have no initial in an acronym ("U.S.S.R." for "Union of
# Soviet Socialist Republics"); also dropped from the context words.
FUNCTION_WORDS: FrozenSet[str] = frozenset(
    """
    a an the of and or for to in on at by with from as de del della der des di du la le les
    van von y e et und
    is was were are be been being has have had do does did not no it its this that these those
    he she they we you i his her their our your him them us me who whom which what when where
    said says say will would could should may might can also but if than then there here
    """.split()
)

# Label names that mean a person, or an organisation, in the common NER schemes (OntoNotes,
# CoNLL-2003, CoNLL04, WikiNER), case-folded. Name structure such as "a surname alone names the
# person" applies only to labels known to mean persons.
PERSON_LABELS: FrozenSet[str] = frozenset("person per peop people pers persons".split())
ORG_LABELS: FrozenSet[str] = frozenset("org organization organisation organizations company".split())
LOC_LABELS: FrozenSet[str] = frozenset("loc gpe location locations place".split())

# Other names of one place: each tuple is its common English name first, then its other names,
# postal codes and abbreviations (the traditional AP Stylebook ones for the U.S. states),
# written as the parser reads them ("U.S." -> "us", "N.C." -> "nc", "Calif." -> "calif").
PLACES: Tuple[Tuple[str, ...], ...] = (
    ("united states", "united states of america", "us", "usa", "america"),
    ("united kingdom", "uk", "britain", "great britain", "united kingdom of great britain and northern ireland"),
    ("soviet union", "ussr", "union of soviet socialist republics", "soviet", "soviets"),
    ("china", "prc", "peoples republic of china", "people s republic of china", "mainland china"),
    ("taiwan", "republic of china", "roc"),
    ("south africa", "republic of south africa", "rsa"),
    ("netherlands", "holland", "the netherlands"),
    ("south korea", "republic of korea", "rok"),
    ("north korea", "democratic peoples republic of korea", "dprk"),
    ("united arab emirates", "uae"),
    ("czech republic", "czechia"),
    ("ivory coast", "cote d ivoire", "côte d ivoire"),
    ("myanmar", "burma"),
    ("vatican city", "holy see"),
    ("alabama", "al", "ala"), ("alaska", "ak"), ("arizona", "az", "ariz"), ("arkansas", "ar", "ark"),
    ("california", "ca", "calif", "cal"), ("colorado", "co", "colo"), ("connecticut", "ct", "conn"),
    ("delaware", "de", "del"), ("florida", "fl", "fla"), ("georgia", "ga"), ("hawaii", "hi"),
    ("idaho", "id"), ("illinois", "il", "ill"), ("indiana", "in", "ind"), ("iowa", "ia"),
    ("kansas", "ks", "kan", "kans"), ("kentucky", "ky"), ("louisiana", "la"), ("maine", "me"),
    ("maryland", "md"), ("massachusetts", "ma", "mass"), ("michigan", "mi", "mich"),
    ("minnesota", "mn", "minn"), ("mississippi", "ms", "miss"), ("missouri", "mo"),
    ("montana", "mt", "mont"), ("nebraska", "ne", "neb", "nebr"), ("nevada", "nv", "nev"),
    ("new hampshire", "nh"), ("new jersey", "nj"), ("new mexico", "nm", "n mex"), ("new york", "ny"),
    ("north carolina", "nc"), ("north dakota", "nd"), ("ohio", "oh"), ("oklahoma", "ok", "okla"),
    ("oregon", "or", "ore"), ("pennsylvania", "pa", "penn"), ("rhode island", "ri"),
    ("south carolina", "sc"), ("south dakota", "sd"), ("tennessee", "tn", "tenn"), ("texas", "tx", "tex"),
    ("utah", "ut"), ("vermont", "vt"), ("virginia", "va"), ("washington", "wa", "wash"),
    ("west virginia", "wv", "w va"), ("wisconsin", "wi", "wis", "wisc"), ("wyoming", "wy", "wyo"),
    ("district of columbia", "dc", "washington dc"),
)
