"""Packaging: every field comes from settings.ini (nbdev 2 convention)."""
from configparser import ConfigParser
from pathlib import Path
import shlex, setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

def reqs(key): return shlex.split(cfg.get(key, ''))

licenses = dict(apache2=('Apache Software License 2.0', 'OSI Approved :: Apache Software License'))
lic = licenses[cfg['license']]
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']

setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    author=cfg['author'], author_email=cfg['author_email'], license=lic[0], url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=['Development Status :: ' + statuses[int(cfg['status']) - 1], 'Intended Audience :: ' + cfg['audience'],
                 'License :: ' + lic[1], 'Natural Language :: ' + cfg['language'],
                 'Programming Language :: Python :: 3', 'Topic :: Scientific/Engineering :: Artificial Intelligence'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*'])
             + [cfg['lib_path'] + '.' + d for d in ('assets', 'experiments', 'published')],
    # data-only packages: the checksummed MNIST-FID weights (metrics.mnist_v2_net) and the studies' results
    # (data.study_results, studies/README.md); the parameterised experiment
    # notebooks, so that `collapse-repro run` works from any install (runner.experiments_dir); the committed results
    # and ledger, so that `collapse-repro list` and `report` show what reproduces without a checkout
    package_dir={cfg['lib_path'] + '.experiments': 'nbs/experiments', cfg['lib_path'] + '.published': 'figures'},
    package_data={cfg['lib_path'] + '.assets': ['*.pt', '*.json', 'studies/*.json'],
                  cfg['lib_path'] + '.experiments': ['*.ipynb'],
                  cfg['lib_path'] + '.published': ['CLAIMS.md', *(f'{p}/{g}' for p in ('quick', 'gpu', 'paper')
                                                                    for g in ('*.json', '*/*.json'))]},
    include_package_data=True, zip_safe=False,
    python_requires='>=' + cfg['min_python'],
    install_requires=reqs('requirements'),
    extras_require=dict(llm=reqs('llm_requirements'), dev=reqs('dev_requirements')),   # no torchvision: README, Inception-FID
    long_description=Path('README.md').read_text(encoding='utf-8'), long_description_content_type='text/markdown',
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
