"""TPC-H Q19: revenue of air shipments delivered in person, in three part brackets."""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from pyspark_jobs.tpch.transforms import revenue

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["air_lines_delivered_in_person", "bracket_revenue"]

AIR_MODES = ("AIR", "AIR REG")
IN_PERSON = "DELIVER IN PERSON"
QUANTITY_SPAN = 10  # a bracket takes quantities from its smallest to smallest + 10
MIN_SIZE = 1
# (containers, largest size) of the small, medium and large brackets
BRACKETS = (
    (("SM CASE", "SM BOX", "SM PACK", "SM PKG"), 5),
    (("MED BAG", "MED BOX", "MED PKG", "MED PACK"), 10),
    (("LG CASE", "LG BOX", "LG PACK", "LG PKG"), 15),
)


def air_lines_delivered_in_person(lineitem: DataFrame) -> DataFrame:
    """(l_partkey, l_quantity, l_extendedprice, l_discount) of the air shipments delivered in person."""
    by_air = F.col("l_shipmode").isin(*AIR_MODES) & (F.col("l_shipinstruct") == IN_PERSON)
    return lineitem.filter(by_air).select("l_partkey", "l_quantity", "l_extendedprice", "l_discount")


def _in_bracket(brand: str, containers: tuple[str, ...], largest_size: int, smallest_quantity: int) -> Column:
    brand_and_container = (F.col("p_brand") == brand) & F.col("p_container").isin(*containers)
    size = F.col("p_size").between(MIN_SIZE, largest_size)
    quantity = F.col("l_quantity").between(smallest_quantity, smallest_quantity + QUANTITY_SPAN)
    return brand_and_container & size & quantity


def bracket_revenue(
    lines: DataFrame, part: DataFrame, *, brands: tuple[str, ...], quantities: tuple[int, ...]
) -> DataFrame:
    """One row: the revenue of the lines in any bracket; bracket i has brands[i], quantities[i].
    Revenue is computed for the lines in a bracket only (see `revenue`)."""
    parts = part.select("p_partkey", "p_brand", "p_container", "p_size")
    with_part = lines.join(parts, on=F.col("l_partkey") == F.col("p_partkey"), how="inner")
    brackets = [
        _in_bracket(brand, containers, largest_size, smallest_quantity)
        for brand, smallest_quantity, (containers, largest_size) in zip(
            brands, quantities, BRACKETS, strict=True
        )
    ]
    return with_part.filter(reduce(or_, brackets)).agg(F.sum(revenue()).alias("revenue"))
