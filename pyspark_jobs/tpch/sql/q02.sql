-- TPC-H Q02 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).
-- Deviation: a placeholder renders as a whole quoted literal, so the LIKE pattern
-- '%BRASS' is built with concat() around the type.

select
	s_acctbal,
	s_name,
	n_name,
	p_partkey,
	p_mfgr,
	s_address,
	s_phone,
	s_comment
from
	part,
	supplier,
	partsupp,
	nation,
	region
where
	p_partkey = ps_partkey
	and s_suppkey = ps_suppkey
	and p_size = {{ params.size }}
	and p_type like concat('%', '{{ params.type }}')
	and s_nationkey = n_nationkey
	and n_regionkey = r_regionkey
	and r_name = '{{ params.region }}'
	and ps_supplycost = (
		select
			min(ps_supplycost)
		from
			partsupp,
			supplier,
			nation,
			region
		where
			p_partkey = ps_partkey
			and s_suppkey = ps_suppkey
			and s_nationkey = n_nationkey
			and n_regionkey = r_regionkey
			and r_name = '{{ params.region }}'
	)
order by
	s_acctbal desc,
	n_name,
	s_name,
	p_partkey
limit 100
