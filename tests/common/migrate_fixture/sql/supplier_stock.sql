-- suppliers' stock of the larger parts
INSERT OVERWRITE TABLE pj_migrate_test.supplier_stock PARTITION (ds='{{ ds }}')
SELECT
    s.s_suppkey,
    s.s_name,
    count(DISTINCT ps.ps_partkey) AS parts,
    sum(ps.ps_availqty) AS available,
    sum(ps.ps_supplycost * ps.ps_availqty) AS stock_value
FROM tpch.partsupp ps
JOIN tpch.supplier s ON s.s_suppkey = ps.ps_suppkey
JOIN tpch.part p ON p.p_partkey = ps.ps_partkey
WHERE p.p_size > {{ params.min_size }}
GROUP BY s.s_suppkey, s.s_name
