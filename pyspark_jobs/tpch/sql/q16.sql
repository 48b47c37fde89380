-- TPC-H Q16 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).
-- Deviation: a placeholder renders as a whole quoted literal, so the LIKE pattern
-- 'MEDIUM POLISHED%' is built with concat() around the type prefix.

select
	p_brand,
	p_type,
	p_size,
	count(distinct ps_suppkey) as supplier_cnt
from
	partsupp,
	part
where
	p_partkey = ps_partkey
	and p_brand <> '{{ params.brand }}'
	and p_type not like concat('{{ params.type }}', '%')
	and p_size in ({{ params.size1 }}, {{ params.size2 }}, {{ params.size3 }}, {{ params.size4 }}, {{ params.size5 }}, {{ params.size6 }}, {{ params.size7 }}, {{ params.size8 }})
	and ps_suppkey not in (
		select
			s_suppkey
		from
			supplier
		where
			s_comment like '%Customer%Complaints%'
	)
group by
	p_brand,
	p_type,
	p_size
order by
	supplier_cnt desc,
	p_brand,
	p_type,
	p_size
