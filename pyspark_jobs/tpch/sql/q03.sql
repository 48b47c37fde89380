-- TPC-H Q03 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).

select
	l_orderkey,
	sum(l_extendedprice * (1 - l_discount)) as revenue,
	o_orderdate,
	o_shippriority
from
	customer,
	orders,
	lineitem
where
	c_mktsegment = '{{ params.segment }}'
	and c_custkey = o_custkey
	and l_orderkey = o_orderkey
	and o_orderdate < date '{{ params.date }}'
	and l_shipdate > date '{{ params.date }}'
group by
	l_orderkey,
	o_orderdate,
	o_shippriority
order by
	revenue desc,
	o_orderdate
limit 10
