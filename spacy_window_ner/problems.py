"""Problems met while reading input: every one counted, the first few kept to be quoted, and
reported as "first; second; and 3 more". Readers (`readers.ConversionStats`), input streaming
(`inputs.InputStats`, so `kb build` and `visualize`) and the CLI all report skips this way.
"""
from dataclasses import dataclass, field
from typing import Callable, List


@dataclass
class Problems:
    """Count problems and keep the first `limit` of them.

    limit (int): How many problems to keep for the report.
    count (int): How many problems were met.
    first (List[str]): The first `limit` of them, in the order they were met.
    """

    limit: int
    count: int = 0
    first: List[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        """Count one problem, and keep it if fewer than `limit` are kept.

        problem (str): What went wrong and where, e.g. "data.jsonl:3: invalid JSON".
        """
        self.count += 1
        if len(self.first) < self.limit:
            self.first.append(problem)

    def summary(self, show: Callable[[str], str] = str) -> str:
        """The kept problems joined by "; ", followed by "and N more" for those not kept.

        show (Callable[[str], str]): Applied to each kept problem (e.g. to escape it for a terminal).
        RETURNS (str): E.g. "a.jsonl:2: invalid JSON; a.jsonl:5: no "text" field; and 3 more".
        """
        parts = [show(problem) for problem in self.first]
        n_more = self.count - len(self.first)
        if n_more:
            parts.append(f"and {n_more} more")
        return "; ".join(parts)
