"""General word tables the name parser reads: personal titles, name suffixes, corporate
designators, function words, and the label names of the common NER schemes that mean a person
or an organisation.

Source and licence: written for this package from general knowledge of English (and a few
common European) name conventions, MIT like the rest of the package. They are general
resources, not the names of any dataset: no entity name appears here. Every entry is
written as `names.name_key` leaves it (NFKC, case-folded) and without full stops, since the
parser drops full stops before it looks a word up.
"""
from typing import FrozenSet

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
    """.split()
)

# Words written after a name that tell apart relatives or ranks: "John Kennedy Jr.",
# "Henry Ford II". Two names that differ in these are different people.
NAME_SUFFIXES: FrozenSet[str] = frozenset("jr jnr sr snr ii iii iv v vi esq phd md".split())

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
