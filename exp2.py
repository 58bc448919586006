import json, random, statistics, sys
from generators.noise import *
pairs=[json.loads(l) for l in open('sample_data/tweet_pairs.jsonl')]
res={}
for split in range(5):
    ps=pairs[:]; random.Random(split).shuffle(ps)
    messy=[p['text'] for p in ps]; clean=[p['clean'] for p in ps]
    fm, fc, tm, tc = messy[:50], clean[:50], messy[50:], clean[50:]
    for mode in ('pairs','messy-only','tweet','identity'):
        if mode=='identity': syn=tc
        else:
            prof = fit_profile(fm, fc) if mode=='pairs' else fit_profile(fm) if mode=='messy-only' else BUILTIN_PROFILES['tweet']
            c=Corrupter.calibrated(prof, tc); syn=[c(t, 0).text for t in tc]
        a=realism_report(tm, syn, tc, tc)['auc']
        res.setdefault(mode,[]).append((a['cased'],a['lowercased']))
for m,v in res.items(): print(m, 'cased %.3f lower %.3f'%(statistics.fmean(x for x,_ in v), statistics.fmean(y for _,y in v)))
