"""Contracts of the TPC-H source tables: facts in the lake, dimensions in MySQL.

Lake types are those tpchgen-cli writes (bigint keys, decimal(15,2) money, date dates);
MySQL types are those Connector/J returns for the MariaDB tables (int keys).
"""

from __future__ import annotations

import re

from common.contracts import MYSQL, Column, Contract, Table

__all__ = ["LINEITEM", "ORDERS", "PART", "PARTSUPP", "CUSTOMER", "SUPPLIER", "NATION", "REGION"]

MONEY = "decimal(15,2)"


def _cols(spec: str) -> tuple[Column, ...]:
    """'name type, name type' -> NOT NULL columns (TPC-H columns are never null)."""
    pairs = (item.split() for item in re.split(r",(?![^()]*\))", spec))
    return tuple(Column(name, type_, nullable=False) for name, type_ in pairs)


LINEITEM = Table(
    "tpch.lineitem",
    Contract(
        _cols(
            "l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber int, "
            f"l_quantity {MONEY}, l_extendedprice {MONEY}, l_discount {MONEY}, l_tax {MONEY}, "
            "l_returnflag string, l_linestatus string, l_shipdate date, l_commitdate date, "
            "l_receiptdate date, l_shipinstruct string, l_shipmode string, l_comment string"
        ),
        primary_key=("l_orderkey", "l_linenumber"),
    ),
    source=True,
)
ORDERS = Table(
    "tpch.orders",
    Contract(
        _cols(
            f"o_orderkey bigint, o_custkey bigint, o_orderstatus string, o_totalprice {MONEY}, "
            "o_orderdate date, o_orderpriority string, o_clerk string, o_shippriority int, o_comment string"
        ),
        primary_key=("o_orderkey",),
    ),
    source=True,
)
PART = Table(
    "tpch.part",
    Contract(
        _cols(
            "p_partkey bigint, p_name string, p_mfgr string, p_brand string, p_type string, "
            f"p_size int, p_container string, p_retailprice {MONEY}, p_comment string"
        ),
        primary_key=("p_partkey",),
    ),
    source=True,
)
PARTSUPP = Table(
    "tpch.partsupp",
    Contract(
        _cols(f"ps_partkey bigint, ps_suppkey bigint, ps_availqty int, ps_supplycost {MONEY}, ps_comment string"),
        primary_key=("ps_partkey", "ps_suppkey"),
    ),
    source=True,
)
CUSTOMER = Table(
    "tpch.customer",
    Contract(
        _cols(
            "c_custkey int, c_name string, c_address string, c_nationkey int, c_phone string, "
            f"c_acctbal {MONEY}, c_mktsegment string, c_comment string"
        ),
        primary_key=("c_custkey",),
    ),
    store=MYSQL,
    source=True,
)
SUPPLIER = Table(
    "tpch.supplier",
    Contract(
        _cols(
            "s_suppkey int, s_name string, s_address string, s_nationkey int, s_phone string, "
            f"s_acctbal {MONEY}, s_comment string"
        ),
        primary_key=("s_suppkey",),
    ),
    store=MYSQL,
    source=True,
)
NATION = Table(
    "tpch.nation",
    Contract(
        _cols("n_nationkey int, n_name string, n_regionkey int, n_comment string"),
        primary_key=("n_nationkey",),
    ),
    store=MYSQL,
    check_keys=True,
    source=True,
)
REGION = Table(
    "tpch.region",
    Contract(_cols("r_regionkey int, r_name string, r_comment string"), primary_key=("r_regionkey",)),
    store=MYSQL,
    check_keys=True,
    source=True,
)
