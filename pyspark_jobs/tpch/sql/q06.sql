-- TPC-H Q06 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).

select
	sum(l_extendedprice * l_discount) as revenue
from
	lineitem
where
	l_shipdate >= date '{{ params.date }}'
	and l_shipdate < date '{{ params.date }}' + interval '1' year
	and l_discount between {{ params.discount }} - 0.01 and {{ params.discount }} + 0.01
	and l_quantity < {{ params.quantity }}
