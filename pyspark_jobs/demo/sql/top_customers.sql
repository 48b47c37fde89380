-- The daily report as a SparkSqlOperator task ran it: the shared join is recomputed here.
select
	cast(rank as int) as rank,
	c_custkey,
	c_name,
	n_name,
	cast(revenue as decimal(38,4)) as revenue
from (
	select
		c_custkey,
		c_name,
		n_name,
		sum(l_extendedprice * (1 - l_discount)) as revenue,
		row_number() over (partition by l_shipdate order by sum(l_extendedprice * (1 - l_discount)) desc, c_custkey) as rank
	from
		lineitem
		join orders on l_orderkey = o_orderkey
		join customer on o_custkey = c_custkey
		join nation on c_nationkey = n_nationkey
	where
		l_shipdate = date '{{ ds }}'
	group by
		l_shipdate,
		c_custkey,
		c_name,
		n_name
) ranked
where
	rank <= {{ params.top_n }}
