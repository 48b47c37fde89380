SELECT w.l_partkey, p.p_name, p.p_brand, w.quantity, w.revenue
FROM pj_migrate_test.weekly_parts w
JOIN tpch.part p ON p.p_partkey = w.l_partkey
WHERE w.ds = '{{ ds }}'
ORDER BY w.revenue DESC
LIMIT 20
