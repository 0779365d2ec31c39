"""Every function's Prometheus metrics in one exposition, each series labelled with its function."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

FUNCTION_LABEL = "function"


def parse_exposition(exposition: bytes) -> list[Metric]:
    return list(text_string_to_metric_families(exposition.decode("utf-8")))


class MergedFunctionMetrics:
    """A custom collector: families of the same name from several functions become one family."""

    def __init__(self, families_by_function: Mapping[str, Iterable[Metric] | None]):
        """None for a function means it could not be scraped: only its function_up 0 is exposed."""
        self.families_by_function = families_by_function

    def describe(self) -> list[Metric]:
        # Nothing to describe in advance: the families are known only once the functions were scraped.
        return []

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        function_up = GaugeMetricFamily(
            "function_up", "1 when the function answered this scrape, 0 otherwise", labels=[FUNCTION_LABEL]
        )
        for function, families in self.families_by_function.items():
            function_up.add_metric([function], 0 if families is None else 1)
            for family in families or ():
                target = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type, family.unit)
                )
                target.samples.extend(
                    sample._replace(labels={**sample.labels, FUNCTION_LABEL: function}) for sample in family.samples
                )
        yield from merged.values()
        yield function_up


def merged_exposition(families_by_function: Mapping[str, Iterable[Metric] | None]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MergedFunctionMetrics(families_by_function))
    return generate_latest(registry)
