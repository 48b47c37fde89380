-- TPC-H Q11 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).
-- The fraction renders as the param's literal (0.0001), not the original's 0.0001000000:
-- the same value.

select
	ps_partkey,
	sum(ps_supplycost * ps_availqty) as value
from
	partsupp,
	supplier,
	nation
where
	ps_suppkey = s_suppkey
	and s_nationkey = n_nationkey
	and n_name = '{{ params.nation }}'
group by
	ps_partkey having
		sum(ps_supplycost * ps_availqty) > (
			select
				sum(ps_supplycost * ps_availqty) * {{ params.fraction }}
			from
				partsupp,
				supplier,
				nation
			where
				ps_suppkey = s_suppkey
				and s_nationkey = n_nationkey
				and n_name = '{{ params.nation }}'
		)
order by
	value desc
