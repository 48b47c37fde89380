-- TPC-H Q13 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).
-- Deviation: a placeholder renders as a whole quoted literal, so the LIKE pattern
-- '%special%requests%' is built with concat() around the two words.

select
	c_count,
	count(*) as custdist
from
	(
		select
			c_custkey,
			count(o_orderkey) as c_count
		from
			customer left outer join orders on
				c_custkey = o_custkey
				and o_comment not like concat('%', '{{ params.word1 }}', '%', '{{ params.word2 }}', '%')
		group by
			c_custkey
	) as c_orders
group by
	c_count
order by
	custdist desc,
	c_count desc
