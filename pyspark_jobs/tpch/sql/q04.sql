-- TPC-H Q04 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).

select
	o_orderpriority,
	count(*) as order_count
from
	orders
where
	o_orderdate >= date '{{ params.date }}'
	and o_orderdate < date '{{ params.date }}' + interval '3' month
	and exists (
		select
			*
		from
			lineitem
		where
			l_orderkey = o_orderkey
			and l_commitdate < l_receiptdate
	)
group by
	o_orderpriority
order by
	o_orderpriority
