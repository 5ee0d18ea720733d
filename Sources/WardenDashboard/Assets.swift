// The page's stylesheet and its small script, served from the binary (no CDN; works offline).

enum Assets {
    static let css = """
    body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1a202c;background:#f7fafc}
    header{display:flex;gap:1.5em;align-items:center;padding:.6em 1em;background:#1a365d;color:#fff}
    header nav a{color:#bee3f8;margin-right:1em;text-decoration:none}header nav a.current{color:#fff;font-weight:bold}
    main{padding:1em}table{border-collapse:collapse;margin:.5em 0;background:#fff}td,th{border:1px solid #e2e8f0;padding:.25em .5em;text-align:left}
    .banner{background:#c53030;color:#fff;padding:.6em 1em;font-weight:bold}.muted{color:#718096}.bounded{color:#4a5568;font-style:italic}
    .stale{opacity:.35;text-decoration:line-through}.inline{display:inline}.controls form{margin-right:.4em}button{cursor:pointer}button.danger{background:#c53030;color:#fff}
    .ts.ACTIVE{color:#2f855a}.ts.PAUSED,.ts.REDUCING{color:#c05621}.ts.HALTED{color:#c53030}.data.fresh{color:#2f855a}.data.stale,.data.down{color:#c53030}
    .state.RUNNING{color:#2f855a}.state.FATAL,.state.BACKOFF{color:#c53030}.age{color:#4a5568}
    #live li.gap,#lifecycle li.gap{color:#c53030;font-weight:bold}ul.feed{max-height:24em;overflow:auto;background:#fff;border:1px solid #e2e8f0;padding:.5em 1.5em}
    """

    static let js = """
    'use strict';
    function ago(s){s=Math.max(0,Math.floor(s));if(s<60)return s+'s ago';if(s<3600)return Math.floor(s/60)+'m '+(s%60)+'s ago';return Math.floor(s/3600)+'h '+Math.floor(s%3600/60)+'m ago';}
    function tick(){const now=Date.now()/1000;document.querySelectorAll('[data-at]').forEach(e=>{e.textContent=ago(now-parseFloat(e.dataset.at));});}
    setInterval(tick,1000);
    document.querySelectorAll('form.confirm').forEach(f=>f.addEventListener('submit',ev=>{if(!window.confirm(f.dataset.confirm)){ev.preventDefault();return;}f.querySelector('input[name=confirmed]').value='yes';}));
    function add(listId,text,cls){const ul=document.getElementById(listId);if(!ul)return;const li=document.createElement('li');li.textContent=text;if(cls)li.className=cls;ul.insertBefore(li,ul.firstChild);while(ul.children.length>200)ul.removeChild(ul.lastChild);}
    function banner(text){const b=document.getElementById('banner-live');if(!b)return;if(text){b.textContent=text;b.hidden=false;}else{b.hidden=true;}}
    const es=new EventSource('/events/stream');
    es.addEventListener('trades',ev=>{const e=JSON.parse(ev.data),t=e.data;add('live',new Date(t.at*1000).toISOString()+' '+t.strategy+' '+t.side+' '+t.shares+' of '+t.token_id+' (market '+t.market_id+') at '+t.price);
      const f=document.getElementById('fills');if(f)f.textContent=String(parseInt(f.textContent||'0',10)+1);});
    es.addEventListener('activity',ev=>{const e=JSON.parse(ev.data),a=e.data;add('activity',a.at+' ['+a.severity+'] '+a.message);});
    es.addEventListener('state',ev=>{const s=JSON.parse(ev.data).data,ts=document.getElementById('trading-state');if(ts){ts.textContent=s.trading_state;ts.className='ts '+s.trading_state;}});
    es.addEventListener('lifecycle',ev=>{const l=JSON.parse(ev.data).data;add('lifecycle',l.at+' ['+l.severity+'] '+(l.program?l.program+': ':'')+l.message);});
    es.addEventListener('gap',ev=>{const g=JSON.parse(ev.data);add('live','GAP: events were lost ('+(g.reason||'')+')','gap');add('activity','GAP: events were lost ('+(g.reason||'')+')','gap');});
    es.addEventListener('link',ev=>{const l=JSON.parse(ev.data);banner(l.up?'':(l.link.toUpperCase()+' UNREACHABLE since '+l.since+' — figures on this page are no longer current'));
      document.querySelectorAll('[data-from='+l.link+']').forEach(e=>e.classList.toggle('stale',!l.up));});
    es.onerror=()=>banner('DASHBOARD STREAM LOST — figures on this page are no longer current; reconnecting');
    es.onopen=()=>banner('');
    """
}
