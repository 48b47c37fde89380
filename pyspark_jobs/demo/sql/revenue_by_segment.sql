-- The daily report as a SparkSqlOperator task ran it: the shared join is recomputed here.
select
	n_name,
	c_mktsegment,
	count(distinct o_orderkey) as orders,
	cast(sum(l_extendedprice * (1 - l_discount)) as decimal(38,4)) as revenue
from
	lineitem
	join orders on l_orderkey = o_orderkey
	join customer on o_custkey = c_custkey
	join nation on c_nationkey = n_nationkey
where
	l_shipdate = date '{{ ds }}'
group by
	n_name,
	c_mktsegment
