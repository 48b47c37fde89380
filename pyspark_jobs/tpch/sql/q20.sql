-- TPC-H Q20 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).
-- Deviation: a placeholder renders as a whole quoted literal, so the LIKE pattern
-- 'forest%' is built with concat() around the color.

select
	s_name,
	s_address
from
	supplier,
	nation
where
	s_suppkey in (
		select
			ps_suppkey
		from
			partsupp
		where
			ps_partkey in (
				select
					p_partkey
				from
					part
				where
					p_name like concat('{{ params.color }}', '%')
			)
			and ps_availqty > (
				select
					0.5 * sum(l_quantity)
				from
					lineitem
				where
					l_partkey = ps_partkey
					and l_suppkey = ps_suppkey
					and l_shipdate >= date '{{ params.date }}'
					and l_shipdate < date '{{ params.date }}' + interval '1' year
			)
	)
	and s_nationkey = n_nationkey
	and n_name = '{{ params.nation }}'
order by
	s_name
