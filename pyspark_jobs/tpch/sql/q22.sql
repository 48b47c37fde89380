-- TPC-H Q22 as the legacy SparkSqlOperator task ran it; the substitution parameters
-- are job params (placeholders rendered as typed literals; defaults: the validation values).

select
	cntrycode,
	count(*) as numcust,
	sum(c_acctbal) as totacctbal
from
	(
		select
			substring(c_phone, 1, 2) as cntrycode,
			c_acctbal
		from
			customer
		where
			substring(c_phone, 1, 2) in
				('{{ params.code1 }}', '{{ params.code2 }}', '{{ params.code3 }}', '{{ params.code4 }}', '{{ params.code5 }}', '{{ params.code6 }}', '{{ params.code7 }}')
			and c_acctbal > (
				select
					avg(c_acctbal)
				from
					customer
				where
					c_acctbal > 0.00
					and substring(c_phone, 1, 2) in
						('{{ params.code1 }}', '{{ params.code2 }}', '{{ params.code3 }}', '{{ params.code4 }}', '{{ params.code5 }}', '{{ params.code6 }}', '{{ params.code7 }}')
			)
			and not exists (
				select
					*
				from
					orders
				where
					o_custkey = c_custkey
			)
	) as custsale
group by
	cntrycode
order by
	cntrycode
